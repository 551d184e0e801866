#include "trainer/eval_result.h"

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/safetensors.h"
#include "store/project.h"

namespace excap::trainer {

std::string to_string(ScoredAt at) { return at == ScoredAt::Original ? "original" : "packed"; }

void score(EvalResult& r) {
  const std::size_t n = r.data.ids.size();
  if (r.has_cls) {
    if (r.pred_cd.size() != n) throw Error("evaluation", "class prediction count mismatch");
    metrics::ConfusionMatrix cm(static_cast<int>(r.data.cd_names.size()));
    cm.process(r.data.cd.data(), r.pred_cd.data(), n);
    r.cls = metrics::summarize(cm);
  }
  if (r.has_seg && r.scored_at == ScoredAt::Original) {
    if (r.pred_original.size() != n ||
        r.original_areas.num_classes() != int(r.data.tissue_names.size()))
      throw Error("evaluation", "original-size predictions do not match the subset");
    r.seg = r.original_areas.compute();
  } else if (r.has_seg) {
    metrics::SegAreas areas(static_cast<int>(r.data.tissue_names.size()), r.data.ignore_index);
    const std::size_t px = std::size_t(r.data.size) * r.data.size;
    if (r.pred_masks.size() != n * px) throw Error("evaluation", "prediction size mismatch");
    areas.process(r.pred_masks.data(), r.data.masks.data(), n * px);
    r.seg = areas.compute();
  }
}

nlohmann::json eval_json(const EvalResult& r) {
  nlohmann::json j = {
      {"format", "excap-eval"},
      {"version", 1},
      {"run", r.run},
      {"split", r.data.split},
      {"subset", r.subset},
      {"checkpoint", r.checkpoint},
      {"iteration", r.iteration},
      {"count", r.data.ids.size()},
      {"size", r.data.size},
      {"seconds", r.seconds},
      {"created", now_iso8601()},
      {"definitions", std::string("segmentation: mmsegmentation IoUMetric (areas summed over the "
                                  "subset, ignore_index dropped, NaN classes left out of "
                                  "mIoU/mAcc), ") +
                          (r.scored_at == ScoredAt::Original
                               ? "logits resized to each frame's final mask (bilinear, "
                                 "align_corners=False) and scored against it"
                               : "scored at the packed size against the nearest-resized masks") +
                          "; classification: scikit-learn average='macro', zero_division=0"}};
  if (r.has_cls) j["classification"] = metrics::to_json(r.cls, r.data.cd_names);
  if (r.has_seg) {
    j["scored_at"] = to_string(r.scored_at);
    j["segmentation"] = metrics::to_json(r.seg, r.data.tissue_names);
  }
  return j;
}

fs::path eval_dir(const fs::path& run_dir, const std::string& subset) {
  return run_dir / "eval" / subset;
}

fs::path eval_dir(const fs::path& run_dir, const EvalResult& r) {
  return eval_dir(run_dir, r.folder.empty() ? r.subset : r.folder);
}

fs::path write_eval_files(const fs::path& run_dir, const EvalResult& r,
                          bool write_predictions_tensor) {
  const fs::path dir = eval_dir(run_dir, r);
  ensure_dir(dir);
  write_json_atomic(dir / "metrics.json", eval_json(r));
  if (write_predictions_tensor) {
    namespace st = excap::safetensors;
    st::File f;
    const auto n = static_cast<std::int64_t>(r.data.ids.size());
    f.metadata = {{"format", "excap-predictions"},
                  {"version", "1"},
                  {"ids", nlohmann::json(r.data.ids).dump()}};
    if (r.has_seg)
      f.tensors["pred_masks"] =
          st::Tensor(st::DType::U8, {n, r.data.size, r.data.size}, r.pred_masks);
    if (r.has_cls) f.tensors["pred_cd"] = st::Tensor(st::DType::U8, {n}, r.pred_cd);
    st::write(dir / "predictions.safetensors", f);
  }
  return dir;
}

}  // namespace excap::trainer
