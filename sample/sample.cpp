#include "sample/sample.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "sample/annotator_sim.h"
#include "curation/assign.h"
#include "common/error.h"
#include "media/imageio.h"
#include "store/project.h"
#include "stage1/stage1.h"

namespace excap {

using json = nlohmann::json;

namespace {

const char* kind_name(SceneKind k) {
  switch (k) {
    case SceneKind::Clear:
      return "clear";
    case SceneKind::Blurred:
      return "blurred";
    case SceneKind::Obscured:
      return "obscured";
  }
  return "?";
}

// What the renderer produced for one source frame, kept until the video id is known.
struct FrameTruth {
  std::vector<std::uint8_t> mask_png;
  int cd = 0;
  int scene = 0;
  SceneKind kind = SceneKind::Clear;
};

// Ground truth is reference output outside the project, rewritten by running
// synth again: a plain write (no fsync per file) keeps 600 masks quick.
void write_plain(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) throw Error(path.string(), "cannot write the ground-truth mask");
}

void require_empty_target(const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec)) throw Error(out.string(), "exists and is not a folder");
  if (!fs::is_empty(out, ec))
    throw Error(out.string(), "folder is not empty; the sample needs a new or empty folder");
}

}  // namespace

SampleSummary write_sample(const fs::path& out, const SynthOptions& opt,
                           std::function<void(const std::string&)> log) {
  auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  validate_synth_options(opt);
  require_empty_target(out);
  SampleSummary sum;
  sum.out = out;
  sum.project = out / "project";
  sum.truth = out / "truth";
  ensure_dir(out / "videos");
  ensure_dir(sum.truth);

  // 1. Videos, keeping each frame's truth (as PNG bytes: small) for later.
  std::vector<CapsuleVideoSynth> synths;
  std::vector<std::vector<FrameTruth>> truth(static_cast<std::size_t>(opt.patients));
  for (int n = 1; n <= opt.patients; ++n) {
    synths.emplace_back(opt, n);
    const CapsuleVideoSynth& s = synths.back();
    auto& frames = truth[static_cast<std::size_t>(n - 1)];
    frames.resize(static_cast<std::size_t>(s.frame_count()));
    const fs::path video = write_synth_video(s, out / "videos" / ("patient_" + std::to_string(n)),
                                             [&](long long k, const SynthFrame& f) {
                                               FrameTruth& t = frames[static_cast<std::size_t>(k)];
                                               t.mask_png = encode_png(f.mask, 6);
                                               t.cd = f.cd;
                                               t.scene = s.scene_index(k);
                                               t.kind = s.scene_kind(k);
                                             });
    SamplePatient sp;
    sp.patient = n;
    sp.name = s.patient_name();
    sp.video = video;
    sp.video_frames = s.frame_count();
    sum.video_frames += s.frame_count();
    sum.patients.push_back(sp);
    say("video   " + video.string() + ": " + std::to_string(s.frame_count()) + " frames, " +
        std::to_string(s.scene_count()) + " scenes");
  }

  // 2. The project: stage I through the real import/clip/extract code.
  const std::vector<User> users = {
      {"a", Role::Annotator}, {"b", Role::Annotator}, {"expert", Role::Expert}};
  Project p = Project::create(sum.project, cecd_schema(), users);
  p.mutable_meta().extraction.fps = kSampleExtractFps;
  p.mutable_meta().extraction.dedupe = kSampleDedupe;
  p.save_meta();
  std::map<std::string, int> patient_of_video;
  for (SamplePatient& sp : sum.patients) {
    const Video v = import_video(p, sp.video, sp.name, "system");
    if (v.frames != sp.video_frames)
      throw Error(sp.video.string(), "imported with " + std::to_string(v.frames) +
                                         " frames, rendered " + std::to_string(sp.video_frames));
    sp.video_id = v.id;
    patient_of_video[v.id] = sp.patient;
    sp.clip_id = add_clip(p, v.id, 0, v.frames, "system", "whole synthetic video").id;
    say("import  " + sp.video.filename().string() + " -> video " + v.id + " (patient " + v.patient +
        "), clip " + sp.clip_id);
  }

  // 3. Ground truth of every source frame, keyed by the ids the extractor uses.
  json tj = {{"format", "excap-synth-truth"},
             {"version", 1},
             {"schema", "cecd"},
             {"options",
              {{"patients", opt.patients},
               {"seconds", opt.seconds},
               {"fps", opt.fps},
               {"seed", opt.seed},
               {"size", opt.size}}},
             {"cd_rule", describe_cd_rule()},
             {"cd_thresholds",
              {{"invisible_share", CdRule{}.invisible_share}, {"blur_share", CdRule{}.blur_share}}},
             {"videos", json::array()},
             {"frames", json::object()}};
  for (const SamplePatient& sp : sum.patients) {
    const auto& frames = truth[static_cast<std::size_t>(sp.patient - 1)];
    const CapsuleVideoSynth& s = synths[static_cast<std::size_t>(sp.patient - 1)];
    tj["videos"].push_back(
        {{"id", sp.video_id},
         {"file", "videos/" + sp.video.filename().string()},
         {"patient", sp.patient},
         {"frames", sp.video_frames},
         {"fov", {{"cx", s.fov_center().x}, {"cy", s.fov_center().y}, {"r", s.fov_radius()}}}});
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const std::string id = frame_id(sp.video_id, static_cast<long long>(k));
      write_plain(sum.truth / (id + ".png"), frames[k].mask_png);
      tj["frames"][id] = {{"cd", frames[k].cd},
                          {"scene", frames[k].scene},
                          {"scene_kind", kind_name(frames[k].kind)}};
    }
  }
  write_json_atomic(sum.truth / "truth.json", tj);
  say("truth   " + sum.truth.string() + ": " + std::to_string(sum.video_frames) +
      " masks + truth.json");

  ExtractOptions eo;
  eo.user = "system";
  const ExtractReport er = extract_frames(p, eo);
  if (er.failed > 0)
    throw Error(sum.project.string(), std::to_string(er.failed) + " frames failed to extract");
  sum.duplicates_skipped = er.duplicates_skipped;
  const std::vector<Frame> frames = p.load_frames();
  sum.extracted = static_cast<long long>(frames.size());
  say("extract " + std::to_string(frames.size()) + " frames at " +
      std::to_string(static_cast<int>(kSampleExtractFps)) + " fps, " +
      std::to_string(er.duplicates_skipped) + " near-duplicates dropped");

  // 4. Stage II: both annotators get every frame, and label it.
  AssignOptions ao;
  ao.annotators = {"a", "b"};
  ao.per_frame = 2;
  ao.seed = opt.seed;
  assign_project(p, ao, "system");
  const AnnotatorSim sim[2] = {AnnotatorSim(opt.seed, default_annotator_profile(0, "a")),
                               AnnotatorSim(opt.seed, default_annotator_profile(1, "b"))};
  for (const auto& s : sim) ensure_dir(p.label_mask_path(s.profile().user, "x").parent_path());
  long long same_cd = 0;
  double agreement = 0;
  for (const Frame& f : frames) {
    const auto pv = patient_of_video.find(f.video);
    if (pv == patient_of_video.end())
      throw Error("frames.json", "frame " + f.id + " comes from unknown video " + f.video);
    auto& pt = truth[static_cast<std::size_t>(pv->second - 1)];
    if (f.source_index < 0 || f.source_index >= static_cast<long long>(pt.size()))
      throw Error("frames.json", "frame " + f.id + " has source index " +
                                     std::to_string(f.source_index) + " outside its video");
    const FrameTruth& t = pt[static_cast<std::size_t>(f.source_index)];
    const cv::Mat mask = cv::imdecode(t.mask_png, cv::IMREAD_UNCHANGED);
    ++sum.truth_cd[static_cast<std::size_t>(t.cd)];
    SimulatedLabel got[2];
    for (int i = 0; i < 2; ++i) {
      got[i] = sim[i].label(f.id, mask, t.cd);
      const std::string& user = sim[i].profile().user;
      write_png_atomic(p.label_mask_path(user, f.id), got[i].mask);
      LabelRecord r;
      r.frame = f.id;
      r.user = user;
      r.cd = got[i].cd;
      r.time_spent_s = got[i].time_spent_s;
      r.created = r.updated = now_iso8601();
      p.save_label(r);  // the JSON last: it is what marks the frame labeled
      ++sum.labels[user];
    }
    same_cd += got[0].cd == got[1].cd ? 1 : 0;
    agreement += mask_agreement(got[0].mask, got[1].mask);
  }
  for (const auto& s : sim)
    p.audit(s.profile().user, "synthetic_labels",
            json{{"frames", sum.labels[s.profile().user]}, {"seed", opt.seed}});
  if (!frames.empty()) {
    sum.cd_agreement = static_cast<double>(same_cd) / static_cast<double>(frames.size());
    sum.mask_agreement = agreement / static_cast<double>(frames.size());
  }
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "label   a and b labeled %lld frames each; CD agreement %.2f, mask agreement %.3f; "
                "truth CD clear/blur/invisible %lld/%lld/%lld",
                static_cast<long long>(frames.size()), sum.cd_agreement, sum.mask_agreement,
                sum.truth_cd[0], sum.truth_cd[1], sum.truth_cd[2]);
  say(buf);
  for (SamplePatient& sp : sum.patients)
    for (const Frame& f : frames) sp.extracted += f.video == sp.video_id ? 1 : 0;
  return sum;
}

}  // namespace excap
