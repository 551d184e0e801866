#include "sample/sample.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "common/error.h"
#include "curation/assign.h"
#include "media/imageio.h"
#include "sample/annotator_sim.h"
#include "stage1/stage1.h"
#include "store/project.h"

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

// What the steps of write_sample share.
struct SampleRun {
  const SynthOptions& opt;
  std::function<void(const std::string&)> log;
  SampleSummary sum;
  std::vector<CapsuleVideoSynth> synths;
  std::vector<std::vector<FrameTruth>> truth;  // per patient, per source frame
  std::map<std::string, int> patient_of_video;

  void say(const std::string& line) const {
    if (log) log(line);
  }
};

// 1. Videos, keeping each frame's truth (as PNG bytes: small) for later.
void render_videos(SampleRun& r) {
  const SynthOptions& opt = r.opt;
  r.truth.resize(static_cast<std::size_t>(opt.patients));
  for (int n = 1; n <= opt.patients; ++n) {
    r.synths.emplace_back(opt, n);
    const CapsuleVideoSynth& s = r.synths.back();
    auto& frames = r.truth[static_cast<std::size_t>(n - 1)];
    frames.resize(static_cast<std::size_t>(s.frame_count()));
    const fs::path video =
        write_synth_video(s, r.sum.out / "videos" / ("patient_" + std::to_string(n)),
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
    r.sum.video_frames += s.frame_count();
    r.sum.patients.push_back(sp);
    r.say("video   " + video.string() + ": " + std::to_string(s.frame_count()) + " frames, " +
          std::to_string(s.scene_count()) + " scenes");
  }
}

// 2. The project: stage I through the real import/clip/extract code.
Project import_videos(SampleRun& r) {
  const std::vector<User> users = {
      {"a", Role::Annotator}, {"b", Role::Annotator}, {"expert", Role::Expert}};
  Project p = Project::create(r.sum.project, cecd_schema(), users);
  p.mutable_meta().extraction.fps = kSampleExtractFps;
  p.mutable_meta().extraction.dedupe = kSampleDedupe;
  p.save_meta();
  for (SamplePatient& sp : r.sum.patients) {
    const Video v = import_video(p, sp.video, sp.name, "system");
    if (v.frames != sp.video_frames)
      throw Error(sp.video.string(), "imported with " + std::to_string(v.frames) +
                                         " frames, rendered " + std::to_string(sp.video_frames));
    sp.video_id = v.id;
    r.patient_of_video[v.id] = sp.patient;
    sp.clip_id = add_clip(p, v.id, 0, v.frames, "system", "whole synthetic video").id;
    r.say("import  " + sp.video.filename().string() + " -> video " + v.id + " (patient " +
          v.patient + "), clip " + sp.clip_id);
  }
  return p;
}

// truth.json before its videos and frames: the options and the CD rule behind the labels.
json truth_header(const SynthOptions& opt) {
  return {{"format", "excap-synth-truth"},
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
}

// 3. Ground truth of every source frame, keyed by the ids the extractor uses.
void write_truth(const SampleRun& r) {
  json tj = truth_header(r.opt);
  for (const SamplePatient& sp : r.sum.patients) {
    const auto& frames = r.truth[static_cast<std::size_t>(sp.patient - 1)];
    const CapsuleVideoSynth& s = r.synths[static_cast<std::size_t>(sp.patient - 1)];
    tj["videos"].push_back(
        {{"id", sp.video_id},
         {"file", "videos/" + sp.video.filename().string()},
         {"patient", sp.patient},
         {"frames", sp.video_frames},
         {"fov", {{"cx", s.fov_center().x}, {"cy", s.fov_center().y}, {"r", s.fov_radius()}}}});
    for (std::size_t k = 0; k < frames.size(); ++k) {
      const std::string id = frame_id(sp.video_id, static_cast<long long>(k));
      write_plain(r.sum.truth / (id + ".png"), frames[k].mask_png);
      tj["frames"][id] = {{"cd", frames[k].cd},
                          {"scene", frames[k].scene},
                          {"scene_kind", kind_name(frames[k].kind)}};
    }
  }
  write_json_atomic(r.sum.truth / "truth.json", tj);
  r.say("truth   " + r.sum.truth.string() + ": " + std::to_string(r.sum.video_frames) +
        " masks + truth.json");
}

std::vector<Frame> extract_sample(const Project& p, SampleRun& r) {
  ExtractOptions eo;
  eo.user = "system";
  const ExtractReport er = extract_frames(p, eo);
  if (er.failed > 0)
    throw Error(r.sum.project.string(), std::to_string(er.failed) + " frames failed to extract");
  r.sum.duplicates_skipped = er.duplicates_skipped;
  std::vector<Frame> frames = p.load_frames();
  r.sum.extracted = static_cast<long long>(frames.size());
  r.say("extract " + std::to_string(frames.size()) + " frames at " +
        std::to_string(static_cast<int>(kSampleExtractFps)) + " fps, " +
        std::to_string(er.duplicates_skipped) + " near-duplicates dropped");
  return frames;
}

// The rendered truth of an extracted frame.
const FrameTruth& truth_of(const SampleRun& r, const Frame& f) {
  const auto pv = r.patient_of_video.find(f.video);
  if (pv == r.patient_of_video.end())
    throw Error("frames.json", "frame " + f.id + " comes from unknown video " + f.video);
  const auto& pt = r.truth[static_cast<std::size_t>(pv->second - 1)];
  if (f.source_index < 0 || f.source_index >= static_cast<long long>(pt.size()))
    throw Error("frames.json", "frame " + f.id + " has source index " +
                                   std::to_string(f.source_index) + " outside its video");
  return pt[static_cast<std::size_t>(f.source_index)];
}

struct AgreementTally {
  long long same_cd = 0;
  double mask = 0;  // summed over frames
};

// Both simulated annotators label one frame, each mask before its JSON.
void label_frame(const Project& p, SampleRun& r, const AnnotatorSim (&sim)[2], const Frame& f,
                 AgreementTally& tally) {
  const FrameTruth& t = truth_of(r, f);
  const cv::Mat mask = cv::imdecode(t.mask_png, cv::IMREAD_UNCHANGED);
  ++r.sum.truth_cd[static_cast<std::size_t>(t.cd)];
  SimulatedLabel got[2];
  for (int i = 0; i < 2; ++i) {
    got[i] = sim[i].label(f.id, mask, t.cd);
    const std::string& user = sim[i].profile().user;
    write_png_atomic(p.label_mask_path(user, f.id), got[i].mask);
    LabelRecord rec;
    rec.frame = f.id;
    rec.user = user;
    rec.cd = got[i].cd;
    rec.time_spent_s = got[i].time_spent_s;
    rec.created = rec.updated = now_iso8601();
    p.save_label(rec);  // the JSON last: it is what marks the frame labeled
    ++r.sum.labels[user];
  }
  tally.same_cd += got[0].cd == got[1].cd ? 1 : 0;
  tally.mask += mask_agreement(got[0].mask, got[1].mask);
}

void say_labels(const SampleRun& r, std::size_t frames) {
  const SampleSummary& sum = r.sum;
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "label   a and b labeled %lld frames each; CD agreement %.2f, mask agreement %.3f; "
                "truth CD clear/blur/invisible %lld/%lld/%lld",
                static_cast<long long>(frames), sum.cd_agreement, sum.mask_agreement,
                sum.truth_cd[0], sum.truth_cd[1], sum.truth_cd[2]);
  r.say(buf);
}

// 4. Stage II: both annotators get every frame, and label it.
void label_sample(const Project& p, SampleRun& r, const std::vector<Frame>& frames) {
  AssignOptions ao;
  ao.annotators = {"a", "b"};
  ao.per_frame = 2;
  ao.seed = r.opt.seed;
  assign_project(p, ao, "system");
  const AnnotatorSim sim[2] = {AnnotatorSim(r.opt.seed, default_annotator_profile(0, "a")),
                               AnnotatorSim(r.opt.seed, default_annotator_profile(1, "b"))};
  for (const auto& s : sim) ensure_dir(p.label_mask_path(s.profile().user, "x").parent_path());
  AgreementTally tally;
  for (const Frame& f : frames) label_frame(p, r, sim, f, tally);
  for (const auto& s : sim)
    p.audit(s.profile().user, "synthetic_labels",
            json{{"frames", r.sum.labels[s.profile().user]}, {"seed", r.opt.seed}});
  if (!frames.empty()) {
    r.sum.cd_agreement = static_cast<double>(tally.same_cd) / static_cast<double>(frames.size());
    r.sum.mask_agreement = tally.mask / static_cast<double>(frames.size());
  }
  say_labels(r, frames.size());
}

}  // namespace

SampleSummary write_sample(const fs::path& out, const SynthOptions& opt,
                           std::function<void(const std::string&)> log) {
  validate_synth_options(opt);
  require_empty_target(out);
  SampleRun r{opt, std::move(log), {}, {}, {}, {}};
  r.sum.out = out;
  r.sum.project = out / "project";
  r.sum.truth = out / "truth";
  ensure_dir(out / "videos");
  ensure_dir(r.sum.truth);
  render_videos(r);
  const Project p = import_videos(r);
  write_truth(r);
  const std::vector<Frame> frames = extract_sample(p, r);
  label_sample(p, r, frames);
  for (SamplePatient& sp : r.sum.patients)
    for (const Frame& f : frames) sp.extracted += f.video == sp.video_id ? 1 : 0;
  return r.sum;
}

}  // namespace excap
