// Postprocessing tests: BlazeFace decoding, weighted NMS, softmax, top-k, dequantisation.
// Expected values are worked out by hand from the contract in postprocess.h (in double), not by the code under
// test. The numpy reference (tests/reference/blazeface_ref.py) checks the same code on real model outputs.
#include "glassbridge/postprocess.h"

#include "check.h"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

// Counts heap allocations, so the "no allocation after construction" promise is tested, not assumed.
static std::atomic<long> g_allocations{0};
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace gb = glassbridge;


static double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

static gb::SsdDecodeOptions options_128() {
  gb::SsdDecodeOptions o;
  o.x_scale = o.y_scale = o.w_scale = o.h_scale = 128.f;
  o.num_coords = 16;
  o.num_keypoints = 6;
  o.score_clipping = 100.f;
  o.min_score = 0.5f;
  return o;
}

static void test_decode_by_hand() {
  // Two anchors; the second has a non-unit size to check that the anchor size multiplies the offsets.
  std::vector<gb::Anchor> anchors = {{0.25f, 0.75f, 1.f, 1.f}, {0.5f, 0.5f, 0.5f, 2.f}};
  std::vector<float> raw(2 * 16, 0.f);
  // Box 0: x offset +16 px, y offset -8 px, w 32 px, h 64 px; keypoint k at (k, -k) px.
  raw[0] = 16.f; raw[1] = -8.f; raw[2] = 32.f; raw[3] = 64.f;
  for (int k = 0; k < 6; ++k) { raw[4 + 2 * k] = static_cast<float>(k); raw[5 + 2 * k] = static_cast<float>(-k); }
  // Box 1: offsets 64, 32; size 16 x 8.
  raw[16] = 64.f; raw[17] = 32.f; raw[18] = 16.f; raw[19] = 8.f;
  std::vector<float> logits = {2.0f, 0.25f};
  std::vector<gb::FaceDetection> out;
  gb::decode_ssd_boxes(raw.data(), logits.data(), 2, anchors.data(), options_128(), out);
  CHECK(out.size() == 2);
  if (out.size() != 2) return;
  const double xc0 = 0.25 + 16.0 / 128, yc0 = 0.75 - 8.0 / 128, w0 = 32.0 / 128, h0 = 64.0 / 128;
  CHECK_NEAR(out[0].xmin, xc0 - w0 / 2, 1e-6);
  CHECK_NEAR(out[0].xmax, xc0 + w0 / 2, 1e-6);
  CHECK_NEAR(out[0].ymin, yc0 - h0 / 2, 1e-6);
  CHECK_NEAR(out[0].ymax, yc0 + h0 / 2, 1e-6);
  CHECK_NEAR(out[0].score, sigmoid(2.0), 1e-6);
  CHECK(out[0].anchor == 0);
  for (int k = 0; k < 6; ++k) {
    CHECK_NEAR(out[0].keypoints[2 * k], 0.25 + k / 128.0, 1e-6);
    CHECK_NEAR(out[0].keypoints[2 * k + 1], 0.75 - k / 128.0, 1e-6);
  }
  const double xc1 = 0.5 + 64.0 / 128 * 0.5, yc1 = 0.5 + 32.0 / 128 * 2, w1 = 16.0 / 128 * 0.5, h1 = 8.0 / 128 * 2;
  CHECK_NEAR(out[1].xmin, xc1 - w1 / 2, 1e-6);
  CHECK_NEAR(out[1].ymax, yc1 + h1 / 2, 1e-6);
  CHECK_NEAR(out[1].score, sigmoid(0.25), 1e-6);
  CHECK(out[1].anchor == 1);
}

static void test_decode_filters() {
  const size_t n = 6;
  std::vector<gb::Anchor> anchors(n, gb::Anchor{0.5f, 0.5f, 1.f, 1.f});
  std::vector<float> raw(n * 16, 0.f);
  for (size_t i = 0; i < n; ++i) { raw[i * 16 + 2] = 10.f; raw[i * 16 + 3] = 10.f; }
  raw[3 * 16 + 2] = -1.f;  // box 3: negative width -> dropped
  raw[4 * 16 + 3] = std::numeric_limits<float>::quiet_NaN();  // box 4: NaN height -> dropped
  std::vector<float> logits = {1e30f, -1e30f, 0.0f, 5.f, 5.f, std::numeric_limits<float>::quiet_NaN()};
  gb::SsdDecodeOptions o = options_128();
  o.min_score = 0.5f;
  std::vector<gb::FaceDetection> out;
  gb::decode_ssd_boxes(raw.data(), logits.data(), n, anchors.data(), o, out);
  // Box 0: clipped to 100 -> sigmoid 1; box 2: logit 0 -> exactly 0.5 >= 0.5 kept; box 1 and 5 (NaN) dropped.
  CHECK(out.size() == 2);
  if (out.size() == 2) {
    CHECK(out[0].anchor == 0 && out[0].score == 1.0f);
    CHECK(out[1].anchor == 2 && out[1].score == 0.5f);
  }
  // Clipping bounds the score from below too: logit -1e30 clipped to -2 gives sigmoid(-2) with min_score 0.
  o.min_score = 0.f;
  o.score_clipping = 2.f;
  gb::decode_ssd_boxes(raw.data(), logits.data(), n, anchors.data(), o, out);
  bool saw_box1 = false;
  for (const auto& d : out) {
    if (d.anchor == 1) { saw_box1 = true; CHECK_NEAR(d.score, sigmoid(-2.0), 1e-6); }
    if (d.anchor == 0) CHECK_NEAR(d.score, sigmoid(2.0), 1e-6);
    CHECK(d.anchor != 3 && d.anchor != 4 && d.anchor != 5);
  }
  CHECK(saw_box1);
}

static gb::FaceDetection box(float x0, float y0, float x1, float y1, float score, int anchor) {
  gb::FaceDetection d;
  d.xmin = x0; d.ymin = y0; d.xmax = x1; d.ymax = y1; d.score = score; d.anchor = anchor;
  for (int k = 0; k < 2 * gb::kMaxKeypoints; ++k) d.keypoints[k] = x0 + static_cast<float>(k);
  return d;
}

static void test_iou() {
  // Two unit squares overlapping by half: intersection 0.5, union 1.5.
  CHECK_NEAR(gb::box_iou(box(0, 0, 1, 1, 1, 0), box(0.5f, 0, 1.5f, 1, 1, 1)), 1.0 / 3.0, 1e-12);
  CHECK_NEAR(gb::box_iou(box(0, 0, 1, 1, 1, 0), box(2, 2, 3, 3, 1, 1)), 0.0, 0.0);
  CHECK_NEAR(gb::box_iou(box(0, 0, 1, 1, 1, 0), box(0, 0, 1, 1, 1, 1)), 1.0, 1e-12);
  CHECK_NEAR(gb::box_iou(box(0, 0, 0, 0, 1, 0), box(0, 0, 0, 0, 1, 1)), 0.0, 0.0);  // no area: 0, not NaN
}

static void test_weighted_nms() {
  // a (0.9) and b (0.6) overlap with IoU 0.6 > 0.3 and merge; c (0.8) is far away; d (0.7) overlaps a only a
  // little (IoU 0.015 / 0.305, about 0.05) and stays a cluster of its own.
  std::vector<gb::FaceDetection> in = {
      box(0.0f, 0.0f, 0.4f, 0.4f, 0.6f, 10),   // b
      box(0.6f, 0.6f, 0.9f, 0.9f, 0.8f, 11),   // c
      box(0.0f, 0.1f, 0.4f, 0.5f, 0.9f, 12),   // a: IoU(a, b) = 0.12 / 0.2 = 0.6
      box(0.3f, 0.35f, 0.7f, 0.75f, 0.7f, 13), // d
  };
  CHECK_NEAR(gb::box_iou(in[2], in[0]), 0.6, 1e-6);
  gb::NmsOptions opt;
  opt.iou_threshold = 0.3f;
  opt.max_detections = 10;
  std::vector<gb::FaceDetection> out;
  std::vector<uint32_t> order;
  gb::weighted_nms(in, opt, 6, out, order);
  CHECK(out.size() == 3);
  if (out.size() != 3) return;
  // Leader a: score stays 0.9, box is the score-weighted mean of a and b.
  CHECK(out[0].anchor == 12);
  CHECK_NEAR(out[0].score, 0.9, 1e-7);
  const double t = 0.9 + 0.6;
  CHECK_NEAR(out[0].ymin, (0.1 * 0.9 + 0.0 * 0.6) / t, 1e-6);
  CHECK_NEAR(out[0].ymax, (0.5 * 0.9 + 0.4 * 0.6) / t, 1e-6);
  CHECK_NEAR(out[0].xmin, 0.0, 1e-6);
  CHECK_NEAR(out[0].keypoints[3], ((0.0 + 3) * 0.9 + (0.0 + 3) * 0.6) / t, 1e-5);
  CHECK(out[1].anchor == 11);  // c alone, unchanged
  CHECK(out[1].xmin == 0.6f && out[1].ymax == 0.9f);
  CHECK(out[2].anchor == 13);
  // max_detections cuts after the best clusters.
  opt.max_detections = 1;
  gb::weighted_nms(in, opt, 6, out, order);
  CHECK(out.size() == 1 && out[0].anchor == 12);
  // Threshold 1.0: nothing is merged (IoU must be > threshold), every box comes back, best first.
  opt.max_detections = 10;
  opt.iou_threshold = 1.0f;
  gb::weighted_nms(in, opt, 6, out, order);
  CHECK(out.size() == 4 && out[0].anchor == 12 && out[1].anchor == 11 && out[2].anchor == 13 && out[3].anchor == 10);
}

static void test_nms_ties_and_degenerate() {
  // Equal scores: input order decides. A zero-area leader must not hide the boxes after it.
  std::vector<gb::FaceDetection> in = {
      box(0.5f, 0.5f, 0.5f, 0.5f, 0.9f, 0),  // degenerate, best score
      box(0.0f, 0.0f, 0.2f, 0.2f, 0.7f, 1),
      box(0.6f, 0.6f, 0.8f, 0.8f, 0.7f, 2),
  };
  gb::NmsOptions opt;
  std::vector<gb::FaceDetection> out;
  std::vector<uint32_t> order;
  gb::weighted_nms(in, opt, 0, out, order);
  CHECK(out.size() == 3);
  if (out.size() == 3) CHECK(out[0].anchor == 0 && out[1].anchor == 1 && out[2].anchor == 2);
  // Empty input: empty output.
  std::vector<gb::FaceDetection> none;
  gb::weighted_nms(none, opt, 6, out, order);
  CHECK(out.empty());
  // Zero scores (possible with min_score 0): the leader's box, not NaN.
  std::vector<gb::FaceDetection> zeros = {box(0.1f, 0.1f, 0.3f, 0.3f, 0.f, 0), box(0.1f, 0.1f, 0.3f, 0.31f, 0.f, 1)};
  gb::weighted_nms(zeros, opt, 6, out, order);
  CHECK(out.size() == 1 && out[0].xmin == 0.1f && out[0].ymax == 0.3f);
  // Invalid inputs are refused with a message.
  std::vector<gb::FaceDetection> bad = {box(0, 0, 1, 1, std::numeric_limits<float>::quiet_NaN(), 0)};
  CHECK_THROWS(gb::weighted_nms(bad, opt, 6, out, order), "detection 0");
  bad[0].score = -1.f;
  CHECK_THROWS(gb::weighted_nms(bad, opt, 6, out, order), "negative");
  opt.iou_threshold = 1.5f;
  CHECK_THROWS(gb::weighted_nms(in, opt, 6, out, order), "iou_threshold");
  opt.iou_threshold = 0.3f;
  opt.max_detections = 0;
  CHECK_THROWS(gb::weighted_nms(in, opt, 6, out, order), "max_detections");
  opt.max_detections = 5;
  CHECK_THROWS(gb::weighted_nms(in, opt, 7, out, order), "num_keypoints");
}

static void test_decoder_class() {
  // 64 anchors on an 8x8 grid; a face predicted at three neighbouring anchors of one row merges into one
  // detection (boxes 0.3125 wide, centres 0.125 apart: IoU 0.1875 / 0.4375, about 0.43 > 0.3).
  std::vector<gb::Anchor> anchors;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) anchors.push_back({(static_cast<float>(x) + 0.5f) / 8, (static_cast<float>(y) + 0.5f) / 8, 1.f, 1.f});
  std::vector<float> raw(64 * 16, 0.f), logits(64, -10.f);
  for (int i : {18, 19, 20}) {
    raw[i * 16 + 2] = 40.f;
    raw[i * 16 + 3] = 40.f;
    logits[i] = i == 19 ? 3.f : 1.f;
  }
  logits[63] = 2.f;  // a second, separate face in the corner
  raw[63 * 16 + 2] = 10.f;
  raw[63 * 16 + 3] = 10.f;
  gb::SsdDecodeOptions o = options_128();
  gb::NmsOptions nms;
  gb::SsdFaceDecoder dec(anchors, o, nms);
  std::vector<gb::FaceDetection> out, decoded;
  out.reserve(64);
  dec.decode_only(raw.data(), raw.size(), logits.data(), logits.size(), decoded);
  CHECK(decoded.size() == 4);
  dec.run(raw.data(), raw.size(), logits.data(), logits.size(), out);
  CHECK(out.size() == 2);
  if (out.size() == 2) {
    CHECK(out[0].anchor == 19);
    CHECK_NEAR(out[0].score, sigmoid(3.0), 1e-6);
    CHECK(out[1].anchor == 63);
  }
  // Warm: no heap allocation at all in run() (output already reserved by the caller).
  const long before = g_allocations.load();
  for (int rep = 0; rep < 5; ++rep) dec.run(raw.data(), raw.size(), logits.data(), logits.size(), out);
  CHECK(g_allocations.load() == before);
  // Length mismatch names both sides.
  CHECK_THROWS(dec.run(raw.data(), raw.size() - 1, logits.data(), logits.size(), out), "expects 1024 box values");
  CHECK_THROWS(dec.run(raw.data(), raw.size(), logits.data(), 63, out), "64 anchors");
  CHECK_THROWS(gb::SsdFaceDecoder({}, o, nms), "no anchors");
  std::vector<gb::Anchor> bad_anchor = {{0.5f, 0.5f, 0.f, 1.f}};
  CHECK_THROWS(gb::SsdFaceDecoder(bad_anchor, o, nms), "anchor 0");
}

static void test_decode_validation() {
  std::vector<gb::FaceDetection> out;
  gb::Anchor a;
  float raw[16] = {}, logit = 0.f;
  gb::SsdDecodeOptions o = options_128();
  o.x_scale = 0.f;
  CHECK_THROWS(gb::decode_ssd_boxes(raw, &logit, 1, &a, o, out), "x_scale");
  o = options_128();
  o.num_coords = 15;
  CHECK_THROWS(gb::decode_ssd_boxes(raw, &logit, 1, &a, o, out), "num_coords 15");
  o = options_128();
  o.min_score = 1.5f;
  CHECK_THROWS(gb::decode_ssd_boxes(raw, &logit, 1, &a, o, out), "min_score");
  o = options_128();
  o.score_clipping = std::numeric_limits<float>::quiet_NaN();
  CHECK_THROWS(gb::decode_ssd_boxes(raw, &logit, 1, &a, o, out), "score_clipping");
  CHECK_THROWS(gb::decode_ssd_boxes(nullptr, &logit, 1, &a, options_128(), out), "null");
}

static void test_softmax() {
  const float x[6] = {1.f, 2.f, 3.f, 1000.f, 1000.f, -1000.f};
  float y[6];
  gb::softmax(x, y, 2, 3);
  const double d = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  CHECK_NEAR(y[0], std::exp(1.0) / d, 1e-7);
  CHECK_NEAR(y[2], std::exp(3.0) / d, 1e-7);
  CHECK_NEAR(y[3], 0.5, 1e-7);  // large logits: no overflow
  CHECK_NEAR(y[5], 0.0, 1e-30);
  float z[3] = {5.f, 5.f, 5.f};
  gb::softmax(z, z, 1, 3);  // in place
  CHECK_NEAR(z[1], 1.0 / 3.0, 1e-7);
  CHECK_THROWS(gb::softmax(x, y, 1, 0), "at least one");
}

static void test_top_k() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float v[7] = {0.1f, 0.5f, nan, 0.5f, 0.9f, -1.f, 0.2f};
  int64_t idx[7];
  float val[7];
  gb::top_k(v, 7, 3, idx, val);
  CHECK(idx[0] == 4 && idx[1] == 1 && idx[2] == 3);  // tie 0.5: lower index first
  CHECK(val[0] == 0.9f && val[1] == 0.5f);
  gb::top_k(v, 7, 7, idx, nullptr);
  CHECK(idx[5] == 5 && idx[6] == 2);  // NaN last
  gb::top_k(v, 7, 1, idx, val);
  CHECK(idx[0] == 4);
  gb::top_k(v, 7, 0, idx, val);  // nothing to do
  CHECK_THROWS(gb::top_k(v, 7, 8, idx, val), "larger than");
}

static void test_dequantize() {
  const int8_t q8[4] = {-128, -1, 0, 127};
  const uint8_t qu[3] = {0, 128, 255};
  float out[4];
  gb::dequantize(q8, 4, 0.5f, -1, out);
  CHECK(out[0] == -63.5f && out[1] == 0.f && out[2] == 0.5f && out[3] == 64.f);
  gb::dequantize(qu, 3, 1.f / 256.f, 128, out);
  CHECK(out[0] == -0.5f && out[1] == 0.f && out[2] == 127.f / 256.f);
  CHECK_THROWS(gb::dequantize(q8, 4, 0.f, 0, out), "scale");
  CHECK_THROWS(gb::dequantize(qu, 3, std::numeric_limits<float>::infinity(), 0, out), "scale");
}

int main() {
  test_decode_by_hand();
  test_decode_filters();
  test_decode_validation();
  test_iou();
  test_weighted_nms();
  test_nms_ties_and_degenerate();
  test_decoder_class();
  test_softmax();
  test_top_k();
  test_dequantize();
  return gb_test::finish("test_postprocess");
}
