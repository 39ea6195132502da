// BlazeFace decoding, weighted NMS, softmax, top-k, dequantisation. Contract: include/glassbridge/postprocess.h.
#include "glassbridge/postprocess.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace glassbridge {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

bool finite_positive(float v) { return std::isfinite(v) && v > 0.f; }

std::string str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Below this logit no clipped logit can reach min_score, so the exp() is skipped. The margin keeps the shortcut
// exact: the score itself is still compared in float for every box near the threshold.
float skip_logit_below(float min_score) {
  if (!(min_score > 0.f) || !(min_score < 1.f)) return -std::numeric_limits<float>::infinity();
  const double logit = std::log(static_cast<double>(min_score) / (1.0 - static_cast<double>(min_score)));
  return static_cast<float>(logit - 1e-3);
}

}  // namespace

void validate(const SsdDecodeOptions& opt) {
  if (!finite_positive(opt.x_scale) || !finite_positive(opt.y_scale) || !finite_positive(opt.w_scale) ||
      !finite_positive(opt.h_scale)) {
    fail("SSD decode: x_scale, y_scale, w_scale and h_scale must be finite and > 0 (the model input size in "
         "pixels), got " + str(opt.x_scale) + ", " + str(opt.y_scale) + ", " + str(opt.w_scale) + ", " +
         str(opt.h_scale));
  }
  if (opt.num_keypoints < 0 || opt.num_keypoints > kMaxKeypoints) {
    fail("SSD decode: num_keypoints must be in 0.." + std::to_string(kMaxKeypoints) + ", got " +
         std::to_string(opt.num_keypoints));
  }
  if (opt.num_coords < 4 + 2 * opt.num_keypoints) {
    fail("SSD decode: num_coords " + std::to_string(opt.num_coords) + " cannot hold 4 box values and " +
         std::to_string(opt.num_keypoints) + " keypoints (needs at least " +
         std::to_string(4 + 2 * opt.num_keypoints) + ")");
  }
  if (!(opt.score_clipping > 0.f)) {
    fail("SSD decode: score_clipping must be > 0, got " + str(opt.score_clipping));
  }
  if (!(opt.min_score >= 0.f && opt.min_score <= 1.f)) {
    fail("SSD decode: min_score must be in [0, 1], got " + str(opt.min_score));
  }
}

void validate(const NmsOptions& opt) {
  if (!(opt.iou_threshold >= 0.f && opt.iou_threshold <= 1.f)) {
    fail("NMS: iou_threshold must be in [0, 1], got " + str(opt.iou_threshold));
  }
  if (opt.max_detections < 1) fail("NMS: max_detections must be at least 1, got 0");
}

void decode_ssd_boxes(const float* raw_boxes, const float* raw_scores, size_t num_boxes, const Anchor* anchors,
                      const SsdDecodeOptions& opt, std::vector<FaceDetection>& out) {
  validate(opt);
  out.clear();
  if (num_boxes == 0) return;
  if (raw_boxes == nullptr || raw_scores == nullptr || anchors == nullptr) {
    fail("SSD decode: raw_boxes, raw_scores and anchors must not be null");
  }
  const float clip = opt.score_clipping;
  const float skip_below = skip_logit_below(opt.min_score);
  const size_t coords = static_cast<size_t>(opt.num_coords);
  for (size_t i = 0; i < num_boxes; ++i) {
    const float logit = std::min(std::max(raw_scores[i], -clip), clip);
    if (logit < skip_below) continue;  // also false for NaN, which the score test below drops
    const float score = 1.f / (1.f + std::exp(-logit));
    if (!(score >= opt.min_score)) continue;

    const float* r = raw_boxes + i * coords;
    const Anchor& a = anchors[i];
    const float xc = r[0] / opt.x_scale * a.width + a.x_center;
    const float yc = r[1] / opt.y_scale * a.height + a.y_center;
    const float w = r[2] / opt.w_scale * a.width;
    const float h = r[3] / opt.h_scale * a.height;
    if (!(w >= 0.f) || !(h >= 0.f)) continue;  // MediaPipe drops negative (and NaN) sizes

    FaceDetection d;
    d.xmin = xc - w / 2.f;
    d.ymin = yc - h / 2.f;
    d.xmax = xc + w / 2.f;
    d.ymax = yc + h / 2.f;
    d.score = score;
    d.anchor = static_cast<int>(i);
    for (int k = 0; k < opt.num_keypoints; ++k) {
      d.keypoints[2 * k] = r[4 + 2 * k] / opt.x_scale * a.width + a.x_center;
      d.keypoints[2 * k + 1] = r[5 + 2 * k] / opt.y_scale * a.height + a.y_center;
    }
    out.push_back(d);
  }
}

double box_iou(const FaceDetection& a, const FaceDetection& b) {
  // In double: the float64 reference then takes the same threshold decisions as this code on the same boxes.
  const double iw = std::max(0.0, static_cast<double>(std::min(a.xmax, b.xmax)) - std::max(a.xmin, b.xmin));
  const double ih = std::max(0.0, static_cast<double>(std::min(a.ymax, b.ymax)) - std::max(a.ymin, b.ymin));
  const double inter = iw * ih;
  const double area_a = (static_cast<double>(a.xmax) - a.xmin) * (static_cast<double>(a.ymax) - a.ymin);
  const double area_b = (static_cast<double>(b.xmax) - b.xmin) * (static_cast<double>(b.ymax) - b.ymin);
  const double uni = area_a + area_b - inter;
  return uni > 0.0 ? inter / uni : 0.0;
}

void weighted_nms(const std::vector<FaceDetection>& in, const NmsOptions& opt, int num_keypoints,
                  std::vector<FaceDetection>& out, std::vector<uint32_t>& order) {
  validate(opt);
  if (num_keypoints < 0 || num_keypoints > kMaxKeypoints) {
    fail("NMS: num_keypoints must be in 0.." + std::to_string(kMaxKeypoints) + ", got " +
         std::to_string(num_keypoints));
  }
  if (in.size() > std::numeric_limits<uint32_t>::max()) fail("NMS: too many detections");
  for (size_t i = 0; i < in.size(); ++i) {
    const FaceDetection& d = in[i];
    // Scores are weights and sort keys: NaN would break the ordering, a negative weight the blend.
    if (!std::isfinite(d.score) || d.score < 0.f || !std::isfinite(d.xmin) || !std::isfinite(d.ymin) ||
        !std::isfinite(d.xmax) || !std::isfinite(d.ymax)) {
      fail("NMS: detection " + std::to_string(i) + " has a non-finite box or a score that is negative or not "
           "finite (score " + str(d.score) + ")");
    }
  }
  out.clear();
  order.resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) order[i] = static_cast<uint32_t>(i);
  // Best score first; equal scores keep input order (the anchor order after decoding): a total order, so
  // std::sort is deterministic and allocation-free (std::stable_sort may allocate).
  std::sort(order.begin(), order.end(), [&in](uint32_t a, uint32_t b) {
    return in[a].score > in[b].score || (in[a].score == in[b].score && a < b);
  });

  const double threshold = static_cast<double>(opt.iou_threshold);
  size_t remaining = order.size();
  while (remaining > 0 && out.size() < opt.max_detections) {
    const FaceDetection& leader = in[order[0]];
    double total = 0.0, xmin = 0.0, ymin = 0.0, xmax = 0.0, ymax = 0.0;
    double kp[2 * kMaxKeypoints] = {};
    size_t kept = 0;
    for (size_t j = 0; j < remaining; ++j) {
      const FaceDetection& d = in[order[j]];
      if (j == 0 || box_iou(d, leader) > threshold) {
        const double s = d.score;
        total += s;
        xmin += d.xmin * s;
        ymin += d.ymin * s;
        xmax += d.xmax * s;
        ymax += d.ymax * s;
        for (int k = 0; k < 2 * num_keypoints; ++k) kp[k] += d.keypoints[k] * s;
      } else {
        order[kept++] = order[j];  // stays in the pool, still sorted
      }
    }
    FaceDetection blended = leader;
    if (total > 0.0) {  // all-zero scores (possible with min_score 0) keep the leader's own box
      blended.xmin = static_cast<float>(xmin / total);
      blended.ymin = static_cast<float>(ymin / total);
      blended.xmax = static_cast<float>(xmax / total);
      blended.ymax = static_cast<float>(ymax / total);
      for (int k = 0; k < 2 * num_keypoints; ++k) blended.keypoints[k] = static_cast<float>(kp[k] / total);
    }
    out.push_back(blended);
    remaining = kept;
  }
}

SsdFaceDecoder::SsdFaceDecoder(std::vector<Anchor> anchors, const SsdDecodeOptions& decode, const NmsOptions& nms)
    : anchors_(std::move(anchors)), decode_(decode), nms_(nms) {
  validate(decode_);
  validate(nms_);
  if (anchors_.empty()) fail("SsdFaceDecoder: no anchors given");
  for (size_t i = 0; i < anchors_.size(); ++i) {
    const Anchor& a = anchors_[i];
    if (!std::isfinite(a.x_center) || !std::isfinite(a.y_center) || !finite_positive(a.width) ||
        !finite_positive(a.height)) {
      fail("SsdFaceDecoder: anchor " + std::to_string(i) + " must have finite centres and a size > 0");
    }
  }
  // Working size reached here once, so run() never allocates.
  decoded_.reserve(anchors_.size());
  kept_.reserve(anchors_.size());
  order_.reserve(anchors_.size());
}

void SsdFaceDecoder::check_lengths(size_t raw_boxes_len, size_t raw_scores_len) const {
  const size_t want_boxes = anchors_.size() * static_cast<size_t>(decode_.num_coords);
  if (raw_boxes_len != want_boxes || raw_scores_len != anchors_.size()) {
    fail("SsdFaceDecoder: the model gave " + std::to_string(raw_boxes_len) + " box values and " +
         std::to_string(raw_scores_len) + " scores; this decoder has " + std::to_string(anchors_.size()) +
         " anchors and expects " + std::to_string(want_boxes) + " box values (" +
         std::to_string(decode_.num_coords) + " per anchor) and " + std::to_string(anchors_.size()) +
         " scores. Are the anchors made for this model?");
  }
}

void SsdFaceDecoder::run(const float* raw_boxes, size_t raw_boxes_len, const float* raw_scores,
                         size_t raw_scores_len, std::vector<FaceDetection>& out) {
  check_lengths(raw_boxes_len, raw_scores_len);
  std::lock_guard<std::mutex> lock(mutex_);
  decode_ssd_boxes(raw_boxes, raw_scores, anchors_.size(), anchors_.data(), decode_, decoded_);
  weighted_nms(decoded_, nms_, decode_.num_keypoints, kept_, order_);
  out.assign(kept_.begin(), kept_.end());
}

void SsdFaceDecoder::decode_only(const float* raw_boxes, size_t raw_boxes_len, const float* raw_scores,
                                 size_t raw_scores_len, std::vector<FaceDetection>& out) {
  check_lengths(raw_boxes_len, raw_scores_len);
  decode_ssd_boxes(raw_boxes, raw_scores, anchors_.size(), anchors_.data(), decode_, out);
}

void softmax(const float* in, float* out, size_t rows, size_t cols) {
  if (cols == 0) fail("softmax: rows must have at least one value");
  if (rows == 0) return;
  if (in == nullptr || out == nullptr) fail("softmax: input and output must not be null");
  if (rows > std::numeric_limits<size_t>::max() / cols) fail("softmax: rows * cols overflows");
  for (size_t r = 0; r < rows; ++r) {
    const float* x = in + r * cols;
    float* y = out + r * cols;
    float m = x[0];
    for (size_t c = 1; c < cols; ++c) m = std::max(m, x[c]);
    // Subtracting the maximum keeps exp() in range (the largest term is exp(0) = 1), so the sum is >= 1.
    double sum = 0.0;
    for (size_t c = 0; c < cols; ++c) {
      const float e = std::exp(x[c] - m);
      y[c] = e;
      sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (size_t c = 0; c < cols; ++c) y[c] *= inv;
  }
}

void top_k(const float* values, size_t n, size_t k, int64_t* indices_out, float* values_out) {
  if (k > n) fail("top_k: k = " + std::to_string(k) + " is larger than the number of values " + std::to_string(n));
  if (k == 0) return;
  if (values == nullptr || indices_out == nullptr) fail("top_k: values and indices_out must not be null");
  // Values are visited in index order, so a newcomer only displaces strictly worse entries: ties keep the lower
  // index first. NaN is worse than every number.
  auto beats = [values](size_t i, int64_t held) {
    const float v = values[i], h = values[static_cast<size_t>(held)];
    return !std::isnan(v) && (std::isnan(h) || v > h);
  };
  size_t filled = 0;
  for (size_t i = 0; i < n; ++i) {
    if (filled == k && !beats(i, indices_out[k - 1])) continue;
    size_t pos = filled == k ? k - 1 : filled;
    while (pos > 0 && beats(i, indices_out[pos - 1])) {
      indices_out[pos] = indices_out[pos - 1];
      --pos;
    }
    indices_out[pos] = static_cast<int64_t>(i);
    if (filled < k) ++filled;
  }
  if (values_out != nullptr) {
    for (size_t j = 0; j < k; ++j) values_out[j] = values[static_cast<size_t>(indices_out[j])];
  }
}

namespace {

template <typename Q>
void dequantize_impl(const Q* q, size_t n, float scale, int32_t zero_point, float* out) {
  if (!finite_positive(scale)) fail("dequantize: scale must be finite and > 0, got " + str(scale));
  if (n == 0) return;
  if (q == nullptr || out == nullptr) fail("dequantize: input and output must not be null");
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<int64_t>(q[i]) - zero_point) * scale;
}

}  // namespace

void dequantize(const int8_t* q, size_t n, float scale, int32_t zero_point, float* out) {
  dequantize_impl(q, n, scale, zero_point, out);
}

void dequantize(const uint8_t* q, size_t n, float scale, int32_t zero_point, float* out) {
  dequantize_impl(q, n, scale, zero_point, out);
}

}  // namespace glassbridge
