// Pixelation of boxes (include/glassbridge/redact.h has the contract). Scalar only: the work is the boxes' area
// (a face on a 480x360 upload is a few thousand pixels), two passes over each block: sum, then fill.
#include "glassbridge/redact.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace glassbridge {

void validate(const PixelateOptions& opt) {
  if (opt.max_blocks < 1) {
    throw std::invalid_argument("max_blocks must be >= 1, got " + std::to_string(opt.max_blocks));
  }
  if (opt.min_block < 1) {
    throw std::invalid_argument("min_block must be >= 1, got " + std::to_string(opt.min_block));
  }
}

int pixelate_block_size(int w, int h, const PixelateOptions& opt) {
  validate(opt);
  if (w <= 0 || h <= 0) return 0;
  const int side = std::max(w, h);
  const int across = side / opt.max_blocks + (side % opt.max_blocks != 0 ? 1 : 0);  // ceil, no overflow
  return std::max(opt.min_block, across);
}

namespace {

void fill_block(uint8_t* image, int channels, size_t stride, int bx, int by, int bw, int bh) {
  uint64_t sum[4] = {0, 0, 0, 0};  // 64-bit: any block of an image addressable with int sizes fits
  for (int y = by; y < by + bh; ++y) {
    const uint8_t* row = image + static_cast<size_t>(y) * stride + static_cast<size_t>(bx) * channels;
    for (size_t i = 0; i < static_cast<size_t>(bw) * channels; i += channels) {
      for (int c = 0; c < channels; ++c) sum[c] += row[i + c];
    }
  }
  const uint64_t n = static_cast<uint64_t>(bw) * static_cast<uint64_t>(bh);
  uint8_t mean[4] = {0, 0, 0, 0};
  for (int c = 0; c < channels; ++c) mean[c] = static_cast<uint8_t>((sum[c] + n / 2) / n);
  for (int y = by; y < by + bh; ++y) {
    uint8_t* row = image + static_cast<size_t>(y) * stride + static_cast<size_t>(bx) * channels;
    for (size_t i = 0; i < static_cast<size_t>(bw) * channels; i += channels) {
      for (int c = 0; c < channels; ++c) row[i + c] = mean[c];
    }
  }
}

}  // namespace

size_t pixelate_boxes(uint8_t* image, int width, int height, int channels, size_t stride, const RedactBox* boxes,
                      size_t num_boxes, const PixelateOptions& opt) {
  validate(opt);
  if (width <= 0 || height <= 0) {
    throw std::invalid_argument("image size must be positive, got " + std::to_string(width) + "x" +
                                std::to_string(height));
  }
  if (channels < 1 || channels > 4) {
    throw std::invalid_argument("channels must be 1..4, got " + std::to_string(channels));
  }
  if (stride < static_cast<size_t>(width) * static_cast<size_t>(channels)) {
    throw std::invalid_argument("stride " + std::to_string(stride) + " is less than width * channels = " +
                                std::to_string(static_cast<size_t>(width) * static_cast<size_t>(channels)));
  }
  if (image == nullptr) throw std::invalid_argument("image is null");
  if (num_boxes != 0 && boxes == nullptr) throw std::invalid_argument("boxes is null");
  size_t changed = 0;
  for (size_t i = 0; i < num_boxes; ++i) {
    const RedactBox& b = boxes[i];
    const int x0 = std::max(b.x0, 0), y0 = std::max(b.y0, 0);
    const int x1 = std::min(b.x1, width), y1 = std::min(b.y1, height);
    if (x1 <= x0 || y1 <= y0) continue;
    const int block = pixelate_block_size(x1 - x0, y1 - y0, opt);
    // Steps of min(block, what is left): never past y1 / x1, so no int overflow near INT_MAX either.
    for (int by = y0; by < y1; by += std::min(block, y1 - by)) {
      const int bh = std::min(block, y1 - by);
      for (int bx = x0; bx < x1; bx += std::min(block, x1 - bx)) {
        fill_block(image, channels, stride, bx, by, std::min(block, x1 - bx), bh);
      }
    }
    ++changed;
  }
  return changed;
}

}  // namespace glassbridge
