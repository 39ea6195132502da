// Model output postprocessing: BlazeFace (MediaPipe SSD) decoding with weighted non-maximum suppression,
// softmax, top-k and dequantisation of int8/uint8 tensors.
//
// Contract (tests/reference/blazeface_ref.py is an independent float64 numpy version of the same rules):
//  * Anchors come from MediaPipe's SsdAnchorsCalculator (python/glassbridge/vision/anchors.py generates them):
//    centres normalised to the model input, width and height 1 for BlazeFace (fixed_anchor_size).
//  * Box decoding follows MediaPipe's TensorsToDetectionsCalculator with reverse_output_order (XYWH), as the
//    face detection graphs configure it. For box i with regressors r[0..num_coords) and anchor a:
//        x_center = r[0] / x_scale * a.width  + a.x_center      y_center = r[1] / y_scale * a.height + a.y_center
//        w        = r[2] / w_scale * a.width                    h        = r[3] / h_scale * a.height
//        keypoint k: x = r[4+2k] / x_scale * a.width + a.x_center, y = r[5+2k] / y_scale * a.height + a.y_center
//    score = 1 / (1 + exp(-clamp(logit, -score_clipping, score_clipping))); boxes with score < min_score, a
//    negative or NaN width or height are dropped. Output coordinates stay normalised to the model input.
//  * Weighted NMS (MediaPipe's WEIGHTED algorithm): take the highest-scoring remaining detection (ties: lower
//    anchor index first); every remaining detection whose IoU with it is > iou_threshold (the leader included)
//    joins its cluster and leaves the pool; the output box and keypoints are the score-weighted mean of the
//    cluster's, the output score is the leader's. Repeat until the pool is empty or max_detections are out.
//    One deliberate difference: MediaPipe stops the whole loop when a zero-area leader fails to overlap itself;
//    here the leader always belongs to its own cluster, so a degenerate box never hides the ones after it.
//  * Nothing here allocates per call once the caller's vectors have grown to their working size
//    (SsdFaceDecoder reserves them for the model's box count at construction).
// Every function validates its arguments and throws std::invalid_argument naming the argument and the values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace glassbridge {

// BlazeFace predicts six keypoints: right eye, left eye, nose tip, mouth centre, right and left ear tragion.
constexpr int kMaxKeypoints = 6;

struct Anchor {
  float x_center = 0.f, y_center = 0.f, width = 1.f, height = 1.f;  // normalised to the model input
};

struct SsdDecodeOptions {
  // MediaPipe's decoding scales: the model input size in pixels (192 for full range, 128 for short range).
  float x_scale = 0.f, y_scale = 0.f, w_scale = 0.f, h_scale = 0.f;
  int num_coords = 16;            // values per box in the regressor tensor: 4 box + 2 per keypoint (+ unused)
  int num_keypoints = 6;          // 0..kMaxKeypoints
  float score_clipping = 100.f;   // logits are clamped to [-c, c] before the sigmoid (MediaPipe: 100)
  float min_score = 0.5f;         // detections scoring below are dropped (MediaPipe: 0.5 short, 0.6 full range)
};

struct NmsOptions {
  float iou_threshold = 0.3f;     // MediaPipe's face graphs: min_suppression_threshold 0.3, IoU
  size_t max_detections = 100;    // at most this many clusters are returned, best first
};

struct FaceDetection {
  float xmin = 0.f, ymin = 0.f, xmax = 0.f, ymax = 0.f;  // normalised to the model input
  float score = 0.f;
  int anchor = -1;                                       // anchor index of the detection (of the cluster leader)
  float keypoints[2 * kMaxKeypoints] = {};               // x0, y0, x1, y1, ... (num_keypoints pairs used)
};

void validate(const SsdDecodeOptions& opt);
void validate(const NmsOptions& opt);

// Decodes num_boxes boxes: raw_boxes holds num_boxes * opt.num_coords floats, raw_scores num_boxes logits (one
// class). out is cleared, then receives the detections passing the score threshold, in anchor order.
void decode_ssd_boxes(const float* raw_boxes, const float* raw_scores, size_t num_boxes, const Anchor* anchors,
                      const SsdDecodeOptions& opt, std::vector<FaceDetection>& out);

// Weighted NMS of `in` (see the contract above) into `out` (cleared first), best score first. `order` is scratch
// space (its capacity is reused). num_keypoints says how many keypoint pairs to blend.
void weighted_nms(const std::vector<FaceDetection>& in, const NmsOptions& opt, int num_keypoints,
                  std::vector<FaceDetection>& out, std::vector<uint32_t>& order);

// IoU of two boxes, computed in double; 0 when the union has no area.
double box_iou(const FaceDetection& a, const FaceDetection& b);

// Anchors, options and scratch space for one detector model. run() is serialised by an internal mutex, so one
// decoder may be shared between threads; it does not allocate after construction.
class SsdFaceDecoder {
 public:
  SsdFaceDecoder(std::vector<Anchor> anchors, const SsdDecodeOptions& decode, const NmsOptions& nms);

  // raw_boxes_len and raw_scores_len are the element counts of the two output tensors, checked against
  // num_boxes * num_coords and num_boxes. Returns the suppressed detections (copied into `out`).
  void run(const float* raw_boxes, size_t raw_boxes_len, const float* raw_scores, size_t raw_scores_len,
           std::vector<FaceDetection>& out);
  // Decoding only, without suppression (tests and diagnostics).
  void decode_only(const float* raw_boxes, size_t raw_boxes_len, const float* raw_scores, size_t raw_scores_len,
                   std::vector<FaceDetection>& out);

  size_t num_boxes() const { return anchors_.size(); }
  const SsdDecodeOptions& decode_options() const { return decode_; }
  const NmsOptions& nms_options() const { return nms_; }

 private:
  void check_lengths(size_t raw_boxes_len, size_t raw_scores_len) const;

  std::vector<Anchor> anchors_;
  SsdDecodeOptions decode_;
  NmsOptions nms_;
  std::mutex mutex_;
  std::vector<FaceDetection> decoded_;
  std::vector<FaceDetection> kept_;
  std::vector<uint32_t> order_;
};

// Numerically stable softmax of each of `rows` rows of `cols` values (in may equal out): exp(x - max) / sum.
void softmax(const float* in, float* out, size_t rows, size_t cols);

// The k largest of n values, best first; ties keep the lower index first; NaN ranks below every number.
// Writes k indices and (if values_out is not null) their values. O(n * k): meant for small k (class scores).
void top_k(const float* values, size_t n, size_t k, int64_t* indices_out, float* values_out);

// real = (q - zero_point) * scale, computed in float as float(q - zero_point) * scale (LiteRT's convention).
void dequantize(const int8_t* q, size_t n, float scale, int32_t zero_point, float* out);
void dequantize(const uint8_t* q, size_t n, float scale, int32_t zero_point, float* out);

}  // namespace glassbridge
