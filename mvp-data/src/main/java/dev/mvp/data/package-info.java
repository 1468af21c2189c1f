/**
 * Image datasets (folders and file lists), decoding, torchvision-faithful augmentation and evaluation transforms, and
 * off-heap batching for pre-training and evaluation ({@link dev.mvp.data.BatchLoader}).
 */
package dev.mvp.data;
