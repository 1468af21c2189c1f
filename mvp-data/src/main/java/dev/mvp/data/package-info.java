/**
 * Image datasets, decoding, torchvision-faithful augmentation and off-heap batching for pre-training.
 */
package dev.mvp.data;
