// The dashboard end to end: a real dataset written with the Dataset API (several sweeps over eight
// commits with a step, two devices, two backends, memory and accuracy runs, a failure), then
// `tlmbench report`, then the page loaded in headless Chromium: no console errors, the sections,
// table rows and SVG charts in the DOM after the scripts ran, and a screenshot.
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dashboards/dashboard_data.h"
#include "dashboards/site_writer.h"
#include "harness/store/dataset.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;
namespace v1 = tlmbench::v1;
using nlohmann::json;

// Outputs stay in the build tree for a person (or CI) to look at: build/.../dashboard-test/.
fs::path OutDir(const std::string& name) {
  fs::path dir = fs::path(TLM_BINARY_DIR) / "dashboard-test" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::string Tlmbench() { return (fs::path(TLM_BINARY_DIR) / "bin" / "tlmbench").string(); }

// ---- the dataset --------------------------------------------------------------------------------

v1::DeviceInfo Device(const std::string& name, const std::string& cpu, const std::string& board) {
  v1::DeviceInfo d;
  d.set_name(name);
  d.set_hostname(name + ".lan");
  (*d.mutable_labels())["board"] = board;
  d.mutable_cpu()->set_model(cpu);
  d.mutable_cpu()->set_logical_cpus(4);
  d.set_memory_bytes(8ull << 30);
  d.set_arch(board == "rpi5" ? "aarch64" : "x86_64");
  d.set_os("Debian GNU/Linux 12 (bookworm)");
  return d;
}

v1::RunSpec Spec(const std::string& sweep, const std::string& run_id, const std::string& backend, int threads,
                 const std::string& workload = "generate") {
  v1::RunSpec spec;
  spec.set_run_id(run_id);
  spec.set_sweep_id(sweep);
  spec.set_scenario(workload == "generate" ? "nightly" : "accuracy");
  spec.set_source("scenarios/ci-regression.yaml:4");
  // Equal hashes across sweeps: comparable runs, one timeline series per device.
  spec.set_spec_hash(fmt::format("hash-{}-{}-{}", workload, backend, threads));
  spec.set_workload(workload);
  spec.set_model("gemma-3-270m-q4_k_m.gguf");
  spec.set_backend(backend);
  spec.set_threads(threads);
  spec.set_n_prompt(128);
  spec.set_n_gen(32);
  spec.set_activations("f32");
  spec.set_attempt(1);
  return spec;
}

v1::RunResult Result(const v1::RunSpec& spec, const std::string& agent, const std::string& commit,
                     const std::string& commit_time, double decode_tps, double prefill_tps) {
  v1::RunResult r;
  r.set_run_id(spec.run_id());
  r.set_status(v1::OK);
  r.set_verdict(v1::VALID);
  r.set_verdict_reason("cv 0.01 below 0.05");
  r.set_model_sha256("feedbeef");
  r.set_model_description("gemma3 270M Q4_K_M");
  r.set_threads(spec.threads());
  r.set_started_at(commit_time.substr(0, 11) + "23:00:00Z");
  r.set_finished_at(commit_time.substr(0, 11) + "23:01:00Z");
  r.mutable_build()->set_git_commit(commit);
  r.mutable_build()->set_commit_time(commit_time);
  r.set_agent(agent);
  r.set_reps(3);
  auto add = [&r](int rep, const std::string& metric, double value, const char* unit) {
    v1::Sample* s = r.add_samples();
    s->set_repetition(rep);
    s->set_metric(metric);
    s->set_value(value);
    s->set_unit(unit);
  };
  if (spec.workload() == "generate") {
    for (int i = 1; i <= 3; ++i) {
      const double jitter = 1 + 0.004 * (i - 2);
      add(i, "decode_tps", decode_tps * jitter, "tokens/s");
      add(i, "prefill_tps", prefill_tps * jitter, "tokens/s");
      add(i, "ttft_ms", 128 / prefill_tps * 1000 * jitter + 3, "ms");
    }
  }
  add(0, "rss_peak_anon_bytes", (spec.backend() == "cpu" ? 96.0 : 120.0) * 1048576, "bytes");
  add(0, "rss_peak_file_bytes", 241.0 * 1048576, "bytes");
  add(0, "embd_resident_frac", spec.backend() == "cpu" ? 0.18 : 0.22, "fraction");
  if (spec.workload() == "accuracy") {
    add(0, "kld_mean", spec.backend() == "cpu" ? 0.0012 : 0.0031, "nats");
    add(0, "top1_agree", spec.backend() == "cpu" ? 0.991 : 0.974, "fraction");
    add(0, "ppl", spec.backend() == "cpu" ? 11.82 : 11.95, "ratio");
  }
  return r;
}

struct TestDataset {
  std::string path;
  int runs = 0;
};

// Twelve nightly sweeps (one per commit), each running decode on 2 devices x 2 backends; from the
// seventh commit on, edge-rpi5 on cpu decodes 25% slower (the regression the timeline must show).
// The last sweep also has accuracy runs and one timed-out run with a retried attempt.
TestDataset MakeDataset(const fs::path& dir) {
  TestDataset t;
  t.path = (dir / "bench.db").string();
  fs::remove(t.path);
  auto opened = Dataset::Open(t.path);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  Dataset& ds = **opened;
  const std::vector<std::pair<std::string, std::string>> devices = {{"edge-rpi5", "rpi5"}, {"edge-x86", "nuc"}};
  EXPECT_TRUE(ds.UpsertDevice(Device("edge-rpi5", "Cortex-A76", "rpi5"), "2025-03-01T00:00:00Z").ok());
  EXPECT_TRUE(ds.UpsertDevice(Device("edge-x86", "Intel(R) N100", "nuc"), "2025-03-01T00:00:00Z").ok());
  const int kCommits = 12;
  for (int c = 0; c < kCommits; ++c) {
    const std::string commit = fmt::format("c0ffee{:02d}aa{:02d}", c, c * 7);
    const std::string when = fmt::format("2025-03-{:02d}T10:00:00Z", c + 1);
    const std::string sweep = fmt::format("nightly-2025-03-{:02d}", c + 1);
    SweepRecord s;
    s.sweep_id = sweep;
    s.name = "nightly";
    s.spec_path = "scenarios/ci-regression.yaml";
    s.spec_text = "name: nightly\n";
    s.started_at = fmt::format("2025-03-{:02d}T23:00:00Z", c + 1);
    s.status = "running";
    s.controller_commit = commit;
    s.controller_host = "ci";
    s.n_runs = c == kCommits - 1 ? 7 : 4;
    s.agents = "edge-rpi5:50051,edge-x86:50051";
    EXPECT_TRUE(ds.BeginSweep(s).ok());
    for (const auto& [device, board] : devices) {
      for (const std::string backend : {"cpu", "cpu-xnnpack"}) {
        const bool x86 = board == "nuc";
        double decode = (x86 ? 60.0 : 24.0) * (backend == "cpu" ? 1.0 : 1.3) * (1 + 0.003 * ((c * 5) % 3 - 1));
        if (device == "edge-rpi5" && backend == "cpu" && c >= 6) decode *= 0.75;
        const double prefill = (x86 ? 700.0 : 210.0) * (backend == "cpu" ? 1.0 : 1.6);
        const v1::RunSpec spec = Spec(sweep, fmt::format("{}-{}-{}", sweep, device, backend), backend, 4);
        EXPECT_TRUE(ds.WriteResult(spec, Result(spec, device, commit, when, decode, prefill), nullptr).ok());
        ++t.runs;
      }
    }
    if (c == kCommits - 1) {
      for (const std::string backend : {"cpu", "cpu-xnnpack"}) {
        const v1::RunSpec spec = Spec(sweep, fmt::format("{}-acc-{}", sweep, backend), backend, 4, "accuracy");
        EXPECT_TRUE(ds.WriteResult(spec, Result(spec, "edge-x86", commit, when, 0, 0), nullptr).ok());
        ++t.runs;
      }
      const v1::RunSpec hung = Spec(sweep, sweep + "-hung", "opencl:0", 4);
      EXPECT_TRUE(ds.RecordAttempt(hung, "edge-rpi5", v1::TIMED_OUT, "run exceeded 600 s", s.started_at, s.started_at)
                      .ok());
      v1::RunResult failed;
      failed.set_run_id(hung.run_id());
      failed.set_status(v1::TIMED_OUT);
      failed.set_agent("edge-rpi5");
      failed.set_error("run exceeded 600 s </script><b>not bold</b>");  // must stay text on the page
      EXPECT_TRUE(ds.WriteResult(hung, failed, nullptr).ok());
      ++t.runs;
    }
    EXPECT_TRUE(ds.FinishSweep(sweep, "done", fmt::format("2025-03-{:02d}T23:30:00Z", c + 1)).ok());
  }
  return t;
}

// ---- Chromium -----------------------------------------------------------------------------------

std::string FindChromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}) {
    CommandResult r = RunCommand(fmt::format("command -v {}", name));
    if (r.exit_code == 0 && !r.output.empty()) return r.output.substr(0, r.output.find('\n'));
  }
  return "";
}

// Skips (with a banner) only when TLM_ALLOW_NO_CHROMIUM=1; otherwise a missing Chromium fails.
#define REQUIRE_CHROMIUM(var)                                                                                   \
  const std::string var = FindChromium();                                                                       \
  if (var.empty()) {                                                                                            \
    const char* allow = std::getenv("TLM_ALLOW_NO_CHROMIUM");                                                   \
    if (allow != nullptr && std::string(allow) == "1") {                                                        \
      std::fprintf(stderr,                                                                                      \
                   "\n################################################################\n"                   \
                   "## SKIPPED: no chromium found; the dashboard was NOT tested in a\n"                       \
                   "## browser (TLM_ALLOW_NO_CHROMIUM=1). apt-get install chromium\n"                         \
                   "################################################################\n\n");                 \
      GTEST_SKIP() << "chromium not installed (TLM_ALLOW_NO_CHROMIUM=1)";                                      \
    }                                                                                                           \
    FAIL() << "chromium is not installed: the dashboard test needs headless Chromium (apt-get install "         \
              "chromium, as scripts/setup does); set TLM_ALLOW_NO_CHROMIUM=1 to skip it";                       \
  }

struct BrowserRun {
  int exit_code = -1;
  std::string dom;      // --dump-dom: the DOM after the page's scripts ran
  std::string console;  // Chromium's log lines for console messages
  std::string log;      // all of stderr
};

std::string ChromiumFlags(const fs::path& profile) {
  return fmt::format(
      "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --no-default-browser-check "
      "--disable-extensions --disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir={} --enable-logging=stderr --v=0",
      Quote(profile.string()));
}

// The DOM with each <script> element's text left out.
std::string WithoutScripts(const std::string& dom) {
  std::string out;
  size_t at = 0;
  while (true) {
    const size_t open = dom.find("<script", at);
    if (open == std::string::npos) break;
    const size_t body = dom.find('>', open);
    const size_t close = dom.find("</script>", body);
    if (body == std::string::npos || close == std::string::npos) break;
    out.append(dom, at, body + 1 - at);
    at = close;
  }
  out.append(dom, at, std::string::npos);
  return out;
}

BrowserRun LoadInChromium(const std::string& chromium, const fs::path& page, const fs::path& work) {
  const fs::path profile = work / "chromium-profile";
  fs::create_directories(profile);
  const fs::path dom_file = work / "dom.html", log_file = work / "chromium.log";
  const std::string cmd = fmt::format(
      "HOME={} timeout 120 {} {} --virtual-time-budget=5000 --dump-dom {} >{} 2>{}", Quote(work.string()), chromium,
      ChromiumFlags(profile), Quote("file://" + fs::absolute(page).string()), Quote(dom_file.string()),
      Quote(log_file.string()));
  BrowserRun r;
  const int status = std::system(cmd.c_str());
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  // The page's own script holds every message text: leave scripts out of what the tests search.
  r.dom = WithoutScripts(ReadFile(dom_file));
  r.log = ReadFile(log_file);
  std::istringstream lines(r.log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find("CONSOLE") != std::string::npos || line.find("Uncaught") != std::string::npos ||
        line.find("Refused to") != std::string::npos) {
      r.console += line + "\n";
    }
  }
  return r;
}

fs::path Screenshot(const std::string& chromium, const fs::path& page, const fs::path& work, const std::string& name) {
  const fs::path profile = work / "chromium-profile-shot";
  fs::create_directories(profile);
  const fs::path png = work / name;
  const std::string cmd = fmt::format(
      "HOME={} timeout 120 {} {} --hide-scrollbars --run-all-compositor-stages-before-draw --window-size=1400,2400 "
      "--virtual-time-budget=5000 "
      "--screenshot={} {} >{} 2>&1",
      Quote(work.string()), chromium, ChromiumFlags(profile), Quote(png.string()),
      Quote("file://" + fs::absolute(page).string()), Quote((work / "screenshot.log").string()));
  EXPECT_EQ(std::system(cmd.c_str()), 0) << ReadFile(work / "screenshot.log");
  return png;
}

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The outer HTML of the element with this id (up to its matching closing tag of the same name).
std::string ElementById(const std::string& dom, const std::string& id) {
  const size_t attr = dom.find("id=\"" + id + "\"");
  if (attr == std::string::npos) return "";
  const size_t open = dom.rfind('<', attr);
  size_t name_end = dom.find_first_of(" >", open);
  const std::string tag = dom.substr(open + 1, name_end - open - 1);
  int depth = 0;
  for (size_t at = open; at < dom.size();) {
    const size_t next_open = dom.find("<" + tag, at + 1), next_close = dom.find("</" + tag + ">", at + 1);
    if (next_close == std::string::npos) return dom.substr(open);
    if (next_open != std::string::npos && next_open < next_close) {
      const char after = dom[next_open + 1 + tag.size()];
      if (after == ' ' || after == '>') ++depth;
      at = next_open;
    } else {
      if (depth == 0) return dom.substr(open, next_close + tag.size() + 3 - open);
      --depth;
      at = next_close;
    }
  }
  return "";
}

// The JSON the page embeds.
json EmbeddedData(const std::string& html) {
  const std::string open = "<script id=\"data\" type=\"application/json\">";
  const size_t start = html.find(open);
  if (start == std::string::npos) return nullptr;
  const size_t end = html.find("</script>", start);
  return json::parse(html.substr(start + open.size(), end - start - open.size()), nullptr, false);
}

void ExpectRenderedWithoutErrors(const BrowserRun& run) {
  EXPECT_EQ(run.exit_code, 0) << run.log;
  EXPECT_NE(run.dom.find("<div id=\"render-ok\""), std::string::npos) << "the page did not finish rendering\n"
                                                                       << run.log;
  EXPECT_EQ(run.dom.find("<div id=\"render-error\""), std::string::npos) << ElementById(run.dom, "render-error");
  EXPECT_EQ(run.console, "") << "console messages while loading the page";
}

// ---- tests --------------------------------------------------------------------------------------

// Rows as `tlmbench qualify --dataset` and `tlmbench conform --dataset` write them: the model check failed
// at first and passed a day later; one qualify failure; one conform pass.
std::vector<ConformanceRow> ConformanceRows() {
  auto row = [](std::string run, std::string at, std::string backend, std::string suite, std::string name,
                std::string status, double kld, double top1) {
    ConformanceRow r;
    r.run_id = std::move(run), r.started_at = std::move(at), r.backend = std::move(backend);
    r.suite = std::move(suite), r.case_name = std::move(name), r.status = std::move(status);
    r.kld = kld, r.top1 = top1, r.message = r.case_name + " " + r.status;
    return r;
  };
  return {row("q1", "2026-11-24T10:00:00Z", "npu:vnpu:vnpu-small", "qualify", "model.end_to_end", "fail", 0.09, 0.8),
          row("q2", "2026-11-25T10:00:00Z", "npu:vnpu:vnpu-small", "qualify", "model.end_to_end", "pass", 0.006046,
              0.9606),
          row("q2", "2026-11-25T10:00:00Z", "npu:vnpu:vnpu-small", "qualify", "accuracy.fc_i8_i8", "fail", NAN, NAN),
          row("c1", "2026-11-25T09:00:00Z", "opencl", "conform", "model.teacher_forced", "pass", 0.0004, 0.99)};
}

TEST(DashboardTest, ReportRendersInHeadlessChromium) {
  REQUIRE_CHROMIUM(chromium);
  const fs::path work = OutDir("full");
  const TestDataset data = MakeDataset(work);
  const fs::path site = work / "site";
  CommandResult report = RunCommand(fmt::format("{} report {} -o {} --title {}", Tlmbench(), Quote(data.path),
                                                Quote(site.string()), Quote("Nightly </script> & <b>edge</b>")));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  EXPECT_NE(report.output.find("index.html"), std::string::npos) << report.output;
  const fs::path page = site / "index.html";
  ASSERT_TRUE(fs::is_regular_file(page));
  EXPECT_EQ(std::distance(fs::directory_iterator(site), fs::directory_iterator()), 1) << "one self-contained file";

  // Self-contained: no external scripts, styles, images or fetches.
  const std::string html = ReadFile(page);
  for (const char* external : {"<script src", "<link rel=\"stylesheet\"", "https://", "url(", "fetch(", "XMLHttpRequest",
                               "<img"}) {
    EXPECT_EQ(html.find(external), std::string::npos) << external;
  }
  EXPECT_EQ(Count(html, "http://"), Count(html, "http://www.w3.org/2000/svg")) << "only the SVG namespace";
  const json embedded = EmbeddedData(html);
  ASSERT_TRUE(embedded.is_object()) << "the data JSON does not parse";
  EXPECT_EQ(embedded["overview"]["counts"]["runs"], data.runs);
  EXPECT_EQ(embedded["meta"]["title"], "Nightly </script> & <b>edge</b>");

  const BrowserRun run = LoadInChromium(chromium, page, work);
  ExpectRenderedWithoutErrors(run);
  const std::string& dom = run.dom;
  fs::path dom_copy = work / "dom.html";
  std::fprintf(stderr, "dashboard DOM after scripts: %s\n", dom_copy.c_str());

  for (const char* id : {"overview", "speed", "memory", "accuracy", "timeline", "conformance", "qualification"}) {
    EXPECT_NE(dom.find(fmt::format("<section id=\"{}\"", id)), std::string::npos) << id;
  }
  EXPECT_NE(dom.find("<title>Nightly &lt;/script&gt; &amp; &lt;b&gt;edge&lt;/b&gt;</title>"), std::string::npos);
  // The escaped error text is text, not markup.
  EXPECT_EQ(dom.find("<b>not bold</b>"), std::string::npos);
  EXPECT_NE(dom.find("run exceeded 600 s &lt;/script&gt;&lt;b&gt;not bold&lt;/b&gt;"), std::string::npos);

  // Overview: counts, 12 sweeps, 2 devices, 12 commits, 1 problem run.
  EXPECT_NE(ElementById(dom, "count-runs").find(fmt::format(">{}<", data.runs)), std::string::npos)
      << ElementById(dom, "count-runs");
  EXPECT_EQ(Count(ElementById(dom, "table-sweeps"), "<tr data-row="), 12);
  EXPECT_EQ(Count(ElementById(dom, "table-devices"), "<tr data-row="), 2);
  EXPECT_NE(ElementById(dom, "table-devices").find("Cortex-A76"), std::string::npos);
  EXPECT_EQ(Count(ElementById(dom, "table-commits"), "<tr data-row="), 12);
  EXPECT_EQ(Count(ElementById(dom, "table-problems"), "<tr data-row="), 1);

  // Speed matrix: 2 devices x 2 backends, the newest commit's medians with units in the headers.
  const std::string speed = ElementById(dom, "table-speed");
  EXPECT_EQ(Count(speed, "<tr data-row="), 4) << speed;
  for (const char* header : {"data-key=\"decode_tps\"", "data-key=\"prefill_tps\"", "data-key=\"ttft_ms\"",
                             "<span class=\"unit\">tokens/s</span>", "<span class=\"unit\">ms</span>"}) {
    EXPECT_NE(speed.find(header), std::string::npos) << header;
  }
  EXPECT_NE(speed.find("c0ffee11aa"), std::string::npos) << "the newest commit";
  EXPECT_NE(dom.find("id=\"table-speed-filter\""), std::string::npos);
  EXPECT_NE(ElementById(dom, "table-speed-count").find("4 of 4 rows"), std::string::npos);

  // Charts: each an SVG with axes, axis titles with units, and a legend.
  for (const char* id : {"chart-speed-decode_tps", "chart-speed-prefill_tps", "chart-speed-ttft_ms", "chart-memory-rss",
                         "chart-memory-embd", "chart-accuracy-top1", "chart-accuracy-kld", "chart-timeline-decode_tps",
                         "chart-timeline-prefill_tps", "chart-timeline-ttft_ms"}) {
    const std::string chart = ElementById(dom, id);
    ASSERT_FALSE(chart.empty()) << id;
    EXPECT_EQ(chart.rfind("<svg", 0), 0u) << id;
    EXPECT_NE(chart.find("class=\"axis x-axis\""), std::string::npos) << id;
    EXPECT_NE(chart.find("class=\"axis y-axis\""), std::string::npos) << id;
    EXPECT_GE(Count(chart, "class=\"tick\""), 3) << id;
    EXPECT_GE(Count(chart, "class=\"axis-title\""), 2) << id;
    EXPECT_NE(chart.find("class=\"legend\""), std::string::npos) << id;
  }
  EXPECT_EQ(Count(ElementById(dom, "chart-speed-decode_tps"), "class=\"bar\""), 4);
  EXPECT_NE(ElementById(dom, "chart-speed-decode_tps").find(">decode_tps (tokens/s)<"), std::string::npos);
  EXPECT_NE(ElementById(dom, "chart-memory-rss").find(">peak resident set (MiB)<"), std::string::npos);
  EXPECT_NE(ElementById(dom, "chart-memory-rss").find("peak RSS, anonymous (MiB)"), std::string::npos);
  EXPECT_NE(ElementById(dom, "chart-memory-rss").find("peak RSS, file-backed (MiB)"), std::string::npos);
  EXPECT_NE(ElementById(dom, "chart-memory-embd").find(">embedding resident (%)<"), std::string::npos);
  // Memory: 4 generate configurations + 2 accuracy ones; anon and file bars for each.
  EXPECT_EQ(Count(ElementById(dom, "table-memory"), "<tr data-row="), 6);
  EXPECT_EQ(Count(ElementById(dom, "chart-memory-rss"), "class=\"bar\""), 12);
  // Accuracy: the two accuracy configurations.
  const std::string accuracy = ElementById(dom, "table-accuracy");
  EXPECT_EQ(Count(accuracy, "<tr data-row="), 2);
  EXPECT_NE(accuracy.find("99.10"), std::string::npos) << "top1_agree 0.991 shown as a percentage";
  EXPECT_NE(accuracy.find("0.0012"), std::string::npos) << "kld_mean in nats";

  // Timeline: 4 series (device x spec) with 12 points each; axis titles with units.
  const std::string decode_tl = ElementById(dom, "chart-timeline-decode_tps");
  EXPECT_EQ(Count(decode_tl, "class=\"series\""), 4);
  EXPECT_EQ(Count(decode_tl, "class=\"point\""), 48);
  EXPECT_NE(decode_tl.find(">commit time (UTC)<"), std::string::npos);
  EXPECT_NE(decode_tl.find(">decode_tps median (tokens/s)<"), std::string::npos);
  EXPECT_NE(decode_tl.find("2025-03-0"), std::string::npos) << "date tick labels";
  EXPECT_NE(ElementById(dom, "chart-timeline-ttft_ms").find(">ttft_ms median (ms)<"), std::string::npos);
  // Change points: one marker per change point in the data (the next test checks the step itself).
  const int markers = static_cast<int>(embedded["timeline"]["change_points"].size());
  EXPECT_EQ(Count(dom, "class=\"change-point series\""), markers);
  EXPECT_GE(markers, 1) << "the 25% decode step of edge-rpi5 on cpu";
  EXPECT_NE(dom.find("id=\"table-change-points"), std::string::npos);

  // No qualifications table in this dataset: said plainly.
  EXPECT_NE(ElementById(dom, "qualification-empty").find("No qualification runs in this dataset."), std::string::npos);

  const fs::path png = Screenshot(chromium, page, work, "dashboard.png");
  ASSERT_TRUE(fs::is_regular_file(png));
  EXPECT_GT(fs::file_size(png), 50000u) << "a blank page makes a tiny PNG";
  std::fprintf(stderr,
               "\n==================================================================\n"
               "== DASHBOARD SCREENSHOT: %s\n"
               "== page: %s\n"
               "==================================================================\n\n",
               png.c_str(), page.c_str());
}

TEST(DashboardTest, ChangePointMarksTheStep) {
  const fs::path work = OutDir("change-point");
  const TestDataset data = MakeDataset(work);
  auto ds = Dataset::Open(data.path);
  ASSERT_TRUE(ds.ok());
  auto gathered = GatherDashboardData(**ds, {});
  ASSERT_TRUE(gathered.ok()) << gathered.status().ToString();
  const json& timeline = (*gathered)["timeline"];
  bool found = false;
  for (const json& cp : timeline["change_points"]) {
    if (cp["metric"] != "decode_tps") continue;
    for (const json& m : timeline["metrics"]) {
      for (const json& se : m["series"]) {
        if (m["name"] == "decode_tps" && se["id"] == cp["series"] && se["device"] == "edge-rpi5" &&
            se["label"].get<std::string>().find(" · cpu · ") != std::string::npos) {
          found = true;
          EXPECT_EQ(cp["index"], 6);
          EXPECT_EQ(cp["commit"], "c0ffee06aa42");
          EXPECT_NEAR(cp["magnitude_pct"].get<double>(), -25, 2);
          EXPECT_LT(cp["p_value"].get<double>(), 0.05);
        }
      }
    }
  }
  EXPECT_TRUE(found) << timeline["change_points"].dump(2);
}

// Markers come from the data's change_points whatever computed them: injected here.
TEST(DashboardTest, ChangePointMarkersAndQualificationsRender) {
  REQUIRE_CHROMIUM(chromium);
  const fs::path work = OutDir("markers");
  const TestDataset data = MakeDataset(work);
  {
    auto ds = Dataset::Open(data.path);
    ASSERT_TRUE(ds.ok());
    // Issue 6's table, as a qualification run might write it: any columns are shown.
    ASSERT_TRUE((*ds)->connection()
                    .Exec("CREATE TABLE qualifications (device TEXT, model TEXT, backend TEXT, verdict TEXT, "
                          "reason TEXT, decided_at TEXT);"
                          "INSERT INTO qualifications VALUES ('edge-x86', 'gemma-3-270m', 'cpu', 'pass', "
                          "'decode 61.2 >= 40 tokens/s', '2025-03-08T23:40:00Z'), ('edge-rpi5', 'gemma-3-270m', "
                          "'cpu', 'fail', 'decode 18.0 < 20 tokens/s', '2025-03-08T23:40:00Z')")
                    .ok());
    ASSERT_TRUE((*ds)->WriteConformance(ConformanceRows()).ok());
  }
  auto ds = Dataset::Open(data.path);
  ASSERT_TRUE(ds.ok());
  DashboardOptions options;
  options.title = "markers";
  auto gathered = GatherDashboardData(**ds, options);
  ASSERT_TRUE(gathered.ok()) << gathered.status().ToString();
  json& d = *gathered;
  d["timeline"]["change_points"] = json::array();
  const json& series = d["timeline"]["metrics"][0]["series"];
  ASSERT_GE(series.size(), 2u);
  d["timeline"]["change_points"].push_back({{"metric", "decode_tps"},
                                            {"series", series[0]["id"]},
                                            {"index", 5},
                                            {"commit", series[0]["points"][5]["commit"]},
                                            {"time", series[0]["points"][5]["time"]},
                                            {"magnitude_pct", -25.0},
                                            {"p_value", 0.005}});
  d["timeline"]["change_points"].push_back({{"metric", "ttft_ms"},
                                            {"series", series[1]["id"]},
                                            {"index", 2},
                                            {"commit", series[1]["points"][2]["commit"]},
                                            {"time", series[1]["points"][2]["time"]},
                                            {"magnitude_pct", 12.5},
                                            {"p_value", nullptr}});
  auto page = WriteDashboardSite(d, "markers", (work / "site").string());
  ASSERT_TRUE(page.ok()) << page.status().ToString();

  const BrowserRun run = LoadInChromium(chromium, *page, work);
  ExpectRenderedWithoutErrors(run);
  const std::string decode_tl = ElementById(run.dom, "chart-timeline-decode_tps");
  EXPECT_EQ(Count(decode_tl, "class=\"change-point series\""), 1);
  EXPECT_NE(decode_tl.find("-25.0%"), std::string::npos);
  EXPECT_NE(decode_tl.find("change point (dashed line, step in %)"), std::string::npos) << "legend entry";
  EXPECT_EQ(Count(ElementById(run.dom, "chart-timeline-ttft_ms"), "class=\"change-point series\""), 1);
  EXPECT_EQ(Count(ElementById(run.dom, "chart-timeline-prefill_tps"), "class=\"change-point series\""), 0);
  EXPECT_EQ(Count(ElementById(run.dom, "table-change-points"), "<tr data-row="), 2);

  const std::string quals = ElementById(run.dom, "table-qualifications");
  EXPECT_EQ(Count(quals, "<tr data-row="), 2) << quals;
  EXPECT_NE(quals.find("data-key=\"verdict\""), std::string::npos);
  EXPECT_NE(quals.find("class=\"status-ok\">pass<"), std::string::npos) << quals;
  EXPECT_NE(quals.find("class=\"status-bad\">fail<"), std::string::npos) << quals;
  EXPECT_EQ(run.dom.find("No qualification runs in this dataset."), std::string::npos);

  // The conformance table: the latest row per backend, suite and case, the failure first.
  const std::string conf = ElementById(run.dom, "table-conformance");
  EXPECT_EQ(Count(conf, "<tr data-row="), 3) << conf;
  EXPECT_NE(conf.find("class=\"status-bad\">fail<"), std::string::npos) << conf;
  EXPECT_LT(conf.find("accuracy.fc_i8_i8"), conf.find("model.end_to_end")) << conf;
  EXPECT_NE(conf.find("0.006046"), std::string::npos) << conf;
}

// Conformance rows: the latest of each backend + suite + case (an older failure is superseded), failures first.
TEST(DashboardTest, ConformanceLatestRowsFailuresFirst) {
  const fs::path work = OutDir("conformance");
  const std::string path = (work / "conf.db").string();
  auto ds = Dataset::Open(path);
  ASSERT_TRUE(ds.ok());
  ASSERT_TRUE((*ds)->WriteConformance(ConformanceRows()).ok());
  auto gathered = GatherDashboardData(**ds, {});
  ASSERT_TRUE(gathered.ok()) << gathered.status().ToString();
  const json& rows = (*gathered)["conformance"]["rows"];
  ASSERT_EQ(rows.size(), 3u) << rows.dump();
  EXPECT_EQ((*gathered)["conformance"]["columns"][2], "case");
  EXPECT_EQ(rows[0][2], "accuracy.fc_i8_i8");
  EXPECT_EQ(rows[0][3], "fail");
  EXPECT_EQ(rows[1][3], "pass");
  EXPECT_EQ(rows[2][3], "pass");
  for (const json& r : rows) {
    if (r[2] == "model.end_to_end") {
      EXPECT_NEAR(r[4].get<double>(), 0.006046, 1e-9) << "the newer row";
    }
  }
}

// A dataset with nothing in it still renders, every section saying plainly that it is empty.
TEST(DashboardTest, EmptyDatasetSaysSo) {
  REQUIRE_CHROMIUM(chromium);
  const fs::path work = OutDir("empty");
  const std::string path = (work / "empty.db").string();
  ASSERT_TRUE(Dataset::Open(path).ok());
  CommandResult report =
      RunCommand(fmt::format("{} report {} -o {}", Tlmbench(), Quote(path), Quote((work / "site").string())));
  ASSERT_EQ(report.exit_code, 0) << report.output;
  const BrowserRun run = LoadInChromium(chromium, work / "site" / "index.html", work);
  ExpectRenderedWithoutErrors(run);
  for (const char* text : {"No sweeps in this dataset.", "No successful generate runs: no speed figures to show.",
                           "No memory measurements in this dataset.", "No accuracy runs in this dataset.",
                           "No decode_tps measurements to draw over commits.", "No change points found in any series.",
                           "No qualification runs in this dataset.",
                           "No conformance or qualification rows in this dataset."}) {
    EXPECT_NE(run.dom.find(text), std::string::npos) << text;
  }
  EXPECT_EQ(run.dom.find("<svg"), std::string::npos);
}

TEST(DashboardTest, BadInputExitsTwo) {
  const fs::path work = OutDir("bad-input");
  const std::string out = Quote((work / "site").string());
  struct Case {
    std::string args, message;
  };
  std::ofstream(work / "notes.txt") << "not a database at all, just some text that is long enough\n";
  std::ofstream(work / "empty.db");
  ASSERT_EQ(RunCommand(fmt::format("sqlite3 {} 'CREATE TABLE t(x)'", Quote((work / "other.db").string()))).exit_code,
            0);
  const std::vector<Case> cases = {
      {fmt::format("{} -o {}", Quote((work / "missing.db").string()), out), "does not exist"},
      {fmt::format("{} -o {}", Quote((work / "notes.txt").string()), out), "not a tlmbench dataset"},
      {fmt::format("{} -o {}", Quote((work / "empty.db").string()), out), "not a tlmbench dataset"},
      {fmt::format("{} -o {}", Quote((work / "other.db").string()), out), "not a tlmbench dataset"},
      {Quote((work / "other.db").string()), "--output is required"},
  };
  for (const Case& c : cases) {
    CommandResult r = RunCommand(Tlmbench() + " report " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("error: ", 0), 0u) << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << r.output;
  }
  // Refused files are left as they were: no schema written into them, no site made.
  EXPECT_EQ(fs::file_size(work / "empty.db"), 0u);
  EXPECT_FALSE(fs::exists(work / "site"));
  EXPECT_FALSE(fs::exists(work / "missing.db"));
}

}  // namespace
}  // namespace tlm
