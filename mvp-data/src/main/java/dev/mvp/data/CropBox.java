package dev.mvp.data;

/**
 * A region of a decoded image, in its pixel coordinates ({@code left + width <= image width}, likewise for top), and
 * whether the views made from it are mirrored left-right. The flip applies to the resized view (torchvision's
 * {@code RandomResizedCrop} followed by {@code RandomHorizontalFlip}), not to the source image.
 */
public record CropBox(int left, int top, int width, int height, boolean flip) {

    public CropBox {
        if (left < 0 || top < 0 || width < 1 || height < 1) {
            throw new IllegalArgumentException("bad crop box: left " + left + ", top " + top + ", " + width + "x" + height);
        }
    }

    /** The whole of a {@code width x height} image, unflipped. */
    public static CropBox whole(int width, int height) {
        return new CropBox(0, 0, width, height, false);
    }

    /** The same region with the given flip. */
    public CropBox withFlip(boolean flip) {
        return new CropBox(left, top, width, height, flip);
    }

    /** Checks that the box lies inside a {@code imageWidth x imageHeight} image. */
    public void checkInside(int imageWidth, int imageHeight) {
        if ((long) left + width > imageWidth || (long) top + height > imageHeight) {
            throw new IllegalArgumentException(this + " does not fit in a " + imageWidth + "x" + imageHeight + " image");
        }
    }
}
