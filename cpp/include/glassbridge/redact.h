// Redaction: pixelating boxes of an interleaved 8-bit image in place (bystanders' faces in the photo that leaves
// the glasses, before JPEG encoding).
//
// Contract (tests/reference/redact_ref.py is an independent numpy version of the same rules, and
// cpp/tests/test_redact.cpp works cases out by hand):
//  * A box is [x0, x1) x [y0, y1) in pixels. It is first clamped to the image; a box that is empty after clamping
//    (x1 <= x0 or y1 <= y0, or wholly outside) changes nothing.
//  * Block size of a box, from its clamped size: b = max(min_block, ceil(max(w, h) / max_blocks)), so at most
//    max_blocks blocks run across the box's larger side and no block is smaller than min_block (unless the box
//    itself is). Blocks tile the clamped box from its top-left corner; the last block of a row or column is cut
//    by the box's edge (smaller, never spilling outside the box).
//  * Every pixel of a block becomes the block's mean, per channel, rounded half up: (sum + n / 2) / n in
//    integers (n = the block's pixel count). Pixels outside every box are untouched.
//  * Boxes are applied in order; where they overlap, a later box averages the pixels an earlier one wrote.
//  * Cost: proportional to the boxes' area, not the image's; nothing is allocated.
// Arguments are validated and std::invalid_argument names the argument and its value.
#pragma once

#include <cstddef>
#include <cstdint>

namespace glassbridge {

struct RedactBox {
  int32_t x0 = 0, y0 = 0, x1 = 0, y1 = 0;  // half-open, pixels; may extend past the image (clamped)
};

struct PixelateOptions {
  int max_blocks = 6;   // at most this many blocks across a box's larger side (>= 1)
  int min_block = 4;    // blocks are at least this many pixels wide and tall (>= 1)
};

void validate(const PixelateOptions& opt);

// Block size of a box that is w x h pixels after clamping (the rule above); 0 for an empty box.
int pixelate_block_size(int w, int h, const PixelateOptions& opt);

// Pixelates each box of `image` in place: height rows of width pixels of `channels` bytes (1..4), rows
// `stride` bytes apart (stride >= width * channels). Returns how many boxes changed the image (non-empty after
// clamping).
size_t pixelate_boxes(uint8_t* image, int width, int height, int channels, size_t stride, const RedactBox* boxes,
                      size_t num_boxes, const PixelateOptions& opt);

}  // namespace glassbridge
