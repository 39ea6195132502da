// Pixelation tests. Expected values are worked out here in double from the contract in redact.h, by a separate
// straightforward implementation (per pixel: which block, which box), not by the code under test; the numpy
// reference (tests/reference/redact_ref.py) checks the binding the same way on real images.
#include "glassbridge/redact.h"

#include "check.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <vector>

namespace gb = glassbridge;

namespace {

// Deterministic pseudo-random bytes (xorshift), so every block has a mean that rounds both ways somewhere.
std::vector<uint8_t> noise(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t s = seed;
  for (auto& b : v) {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    b = static_cast<uint8_t>(s >> 24);
  }
  return v;
}

// The contract, written out differently: for each box, clamp, block size, then for every pixel of the box the
// block it falls in (floor((x - x0) / b)), the mean in double, rounded half up.
void reference(std::vector<uint8_t>& img, int w, int h, int ch, size_t stride, const std::vector<gb::RedactBox>& boxes,
               int max_blocks, int min_block) {
  for (const auto& b : boxes) {
    const long x0 = std::max<long>(b.x0, 0), y0 = std::max<long>(b.y0, 0);
    const long x1 = std::min<long>(b.x1, w), y1 = std::min<long>(b.y1, h);
    if (x1 <= x0 || y1 <= y0) continue;
    const long side = std::max(x1 - x0, y1 - y0);
    const long blk = std::max<long>(min_block, static_cast<long>(std::ceil(static_cast<double>(side) / max_blocks)));
    const std::vector<uint8_t> before = img;
    for (long y = y0; y < y1; ++y) {
      for (long x = x0; x < x1; ++x) {
        const long bx0 = x0 + (x - x0) / blk * blk, by0 = y0 + (y - y0) / blk * blk;
        const long bx1 = std::min(bx0 + blk, x1), by1 = std::min(by0 + blk, y1);
        for (int c = 0; c < ch; ++c) {
          double sum = 0;
          for (long yy = by0; yy < by1; ++yy)
            for (long xx = bx0; xx < bx1; ++xx) sum += before[static_cast<size_t>(yy) * stride + xx * ch + c];
          const double mean = sum / static_cast<double>((bx1 - bx0) * (by1 - by0));
          img[static_cast<size_t>(y) * stride + x * ch + c] = static_cast<uint8_t>(std::floor(mean + 0.5));
        }
      }
    }
  }
}

void compare(int w, int h, int ch, size_t pad, const std::vector<gb::RedactBox>& boxes, int max_blocks,
             int min_block, uint32_t seed) {
  const size_t stride = static_cast<size_t>(w) * ch + pad;
  std::vector<uint8_t> img = noise(stride * h, seed), want = img;
  gb::PixelateOptions opt;
  opt.max_blocks = max_blocks;
  opt.min_block = min_block;
  gb::pixelate_boxes(img.data(), w, h, ch, stride, boxes.data(), boxes.size(), opt);
  reference(want, w, h, ch, stride, boxes, max_blocks, min_block);
  size_t bad = 0;
  for (size_t i = 0; i < img.size(); ++i) bad += img[i] != want[i];
  if (bad != 0) {
    std::fprintf(stderr, "  %dx%dx%d pad %zu, %zu boxes, max_blocks %d min_block %d: %zu bytes differ\n", w, h, ch,
                 pad, boxes.size(), max_blocks, min_block, bad);
  }
  CHECK(bad == 0);
}

void test_by_hand() {
  // A 4x2 grey image, one box covering it, blocks of 2: block means (0+1+4+5)/4 = 2.5 -> 3, (2+3+6+7)/4 = 4.5 -> 5.
  std::vector<uint8_t> img = {0, 1, 2, 3, 4, 5, 6, 7};
  gb::RedactBox box{0, 0, 4, 2};
  gb::PixelateOptions opt;
  opt.max_blocks = 2;
  opt.min_block = 1;
  CHECK(gb::pixelate_boxes(img.data(), 4, 2, 1, 4, &box, 1, opt) == 1);
  const std::vector<uint8_t> want = {3, 3, 5, 5, 3, 3, 5, 5};
  CHECK(img == want);
  // Cut blocks: a 5x1 box with blocks of 2 has a last block of one pixel, kept as it is.
  std::vector<uint8_t> row = {10, 11, 20, 20, 7};
  gb::RedactBox b5{0, 0, 5, 1};
  opt.max_blocks = 3;  // ceil(5 / 3) = 2
  gb::pixelate_boxes(row.data(), 5, 1, 1, 5, &b5, 1, opt);
  const std::vector<uint8_t> want5 = {11, 11, 20, 20, 7};  // (10 + 11) / 2 = 10.5 -> 11
  CHECK(row == want5);
}

void test_block_size() {
  gb::PixelateOptions opt;  // 6 blocks, at least 4 px
  CHECK(gb::pixelate_block_size(120, 160, opt) == 27);  // ceil(160 / 6)
  CHECK(gb::pixelate_block_size(12, 10, opt) == 4);     // ceil(12 / 6) = 2 < 4
  CHECK(gb::pixelate_block_size(0, 10, opt) == 0);
  CHECK(gb::pixelate_block_size(60, 60, opt) == 10);
  CHECK(gb::pixelate_block_size(61, 60, opt) == 11);
}

void test_against_reference() {
  // Odd sizes, every channel count, padded rows, boxes at the edges, outside, empty, overlapping, larger than the
  // image, and degenerate options.
  const std::vector<gb::RedactBox> boxes = {
      {5, 7, 40, 51},       // inside
      {-10, -3, 12, 9},     // over the top-left corner
      {60, 40, 90, 80},     // over the bottom-right corner (image 67x45)
      {200, 10, 240, 30},   // wholly outside
      {20, 20, 20, 30},     // empty (zero width)
      {30, 30, 10, 40},     // inverted
      {30, 25, 55, 44},     // overlaps the first
      {INT_MIN, INT_MIN, INT_MAX, INT_MAX},  // the whole image, extreme coordinates
  };
  for (int ch = 1; ch <= 4; ++ch) {
    compare(67, 45, ch, 0, boxes, 6, 4, 11u + static_cast<uint32_t>(ch));
    compare(67, 45, ch, 5, boxes, 6, 4, 21u + static_cast<uint32_t>(ch));
    compare(67, 45, ch, 3, boxes, 1, 1, 31u + static_cast<uint32_t>(ch));   // one block per box
    compare(67, 45, ch, 0, boxes, 100, 1, 41u + static_cast<uint32_t>(ch)); // 1-px blocks: unchanged
  }
  compare(1, 1, 3, 0, {{0, 0, 1, 1}}, 6, 4, 7u);
  compare(480, 360, 3, 0, {{100, 50, 260, 260}, {300, 0, 480, 190}}, 6, 4, 99u);
  compare(31, 17, 3, 1, {}, 6, 4, 5u);  // no boxes: nothing changes
}

void test_counts_and_untouched() {
  std::vector<uint8_t> img = noise(30 * 20 * 3, 3u), before = img;
  const std::vector<gb::RedactBox> boxes = {{2, 2, 10, 10}, {50, 50, 60, 60}, {5, 5, 5, 9}};
  CHECK(gb::pixelate_boxes(img.data(), 30, 20, 3, 90, boxes.data(), boxes.size(), gb::PixelateOptions{}) == 1);
  for (int y = 0; y < 20; ++y)
    for (int x = 0; x < 30; ++x)
      if (!(x >= 2 && x < 10 && y >= 2 && y < 10))
        for (int c = 0; c < 3; ++c) CHECK(img[(y * 30 + x) * 3 + c] == before[(y * 30 + x) * 3 + c]);
}

void test_errors() {
  std::vector<uint8_t> img(12, 0);
  gb::RedactBox box{0, 0, 2, 2};
  gb::PixelateOptions opt;
  gb::PixelateOptions bad_blocks;
  bad_blocks.max_blocks = 0;
  gb::PixelateOptions bad_min;
  bad_min.min_block = 0;
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 2, 2, 3, 6, &box, 1, bad_blocks), "max_blocks");
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 2, 2, 3, 6, &box, 1, bad_min), "min_block");
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 0, 2, 3, 6, &box, 1, opt), "image size");
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 2, 2, 5, 10, &box, 1, opt), "channels");
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 2, 2, 3, 5, &box, 1, opt), "stride");
  CHECK_THROWS(gb::pixelate_boxes(nullptr, 2, 2, 3, 6, &box, 1, opt), "image is null");
  CHECK_THROWS(gb::pixelate_boxes(img.data(), 2, 2, 3, 6, nullptr, 1, opt), "boxes is null");
}

}  // namespace

int main() {
  test_by_hand();
  test_block_size();
  test_against_reference();
  test_counts_and_untouched();
  test_errors();
  return gb_test::finish("test_redact");
}
