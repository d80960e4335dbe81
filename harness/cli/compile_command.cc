// `tlmbench compile`: loads the model and the plugin, lowers the decode graph's matmuls (weights
// dequantized from GGUF, quantized to int8 per output channel), lets the plugin partition and compile
// them for one SoC, and writes one artifact whose sha256 it prints (and names it by, given a folder).
#include "harness/cli/compile_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "engine/common/sha256.h"
#include "engine/model/model.h"
#include "harness/cli/commands.h"
#include "harness/cli/model_path.h"
#include "kernels/npu/artifact/npu_artifact.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {
namespace {

struct CompileOptions {
  std::string model, plugin, soc, output, plugin_dir;
  std::string activations = "int16";
  bool json = false, quiet = false;
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  return s.code() == StatusCode::kInternal || s.code() == StatusCode::kResourceExhausted ? kExitFailure : kExitBadInput;
}

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int Compile(const CompileOptions& o) {
  if (o.plugin.empty() || o.soc.empty() || o.output.empty())
    return Fail(InvalidArgument("compile needs --plugin, --soc, --model and -o"));
  auto activations = ParseNpuActivations(o.activations);
  if (!activations.ok()) return Fail(activations.status());
  {  // fail before a long compile, not after it
    std::error_code ec;
    const std::filesystem::path out(o.output);
    const std::filesystem::path folder = out.has_parent_path() ? out.parent_path() : std::filesystem::path(".");
    if (!std::filesystem::is_directory(out, ec) && !std::filesystem::is_directory(folder, ec))
      return Fail(NotFound("-o {}: folder {} does not exist", o.output, folder.string()));
  }
  auto path = ResolveModelPath(o.model);
  if (!path.ok()) return Fail(path.status());
  auto plugin = LoadNpuPlugin(o.plugin, o.plugin_dir.empty() ? DefaultNpuPluginDir() : o.plugin_dir);
  if (!plugin.ok()) return Fail(plugin.status());
  const TlmNpuPluginApi& api = (*plugin)->api();
  if (!(*plugin)->SupportsSoc(o.soc))
    return Fail(InvalidArgument("plugin '{}' does not support SoC '{}' (it supports: {})", api.plugin_name, o.soc,
                                (*plugin)->SocList()));
  auto say = [&](const std::string& line) {
    if (o.quiet) return;
    fmt::print(stderr, "[compile] {}\n", line);
    std::fflush(stderr);
  };
  say(fmt::format("loading {}", *path));
  auto model = Model::Load(*path);
  if (!model.ok()) return Fail(model.status());
  const Model& m = **model;
  const auto t0 = std::chrono::steady_clock::now();
  NpuCompileOptions co;
  co.soc = o.soc;
  co.activations = *activations;
  co.model_sha256 = Sha256Hex(m.file().base(), m.file().size());
  co.model_name = fmt::format("{} ({})", std::filesystem::path(*path).filename().string(), m.description());
  co.progress = [&](size_t i, size_t total, const NpuArtifactOp& op) {
    say(fmt::format("{}/{} {} [{} x {}]", i + 1, total, op.label, op.k, op.n));
  };
  // The decode graph: the prefill graphs hold the same matmuls (by weight) over more rows.
  const Graph graph = m.arch().build_graph(m.config(), {.max_tokens = 1, .last_row_only = true});
  auto artifact = CompileNpuArtifact(graph, m, **plugin, co);
  if (!artifact.ok()) return Fail(artifact.status().WithContext(fmt::format("compiling {} for {}", o.model, o.soc)));
  const double compile_ms = MsSince(t0);
  if (Status s = WriteNpuArtifact(&*artifact, o.output); !s.ok()) return Fail(s);
  const NpuArtifactHeader& h = artifact->header;

  std::vector<std::string> left_out;
  for (const NpuArtifactOp& op : h.ops)
    if (!op.taken) left_out.push_back(fmt::format("{} ({})", op.label, op.left_out_reason));
  if (o.json) {
    nlohmann::ordered_json j;
    j["artifact"] = artifact->path;
    j["artifact_sha256"] = artifact->sha256;
    j["artifact_bytes"] = artifact->bytes.size();
    j["compile_ms"] = compile_ms;
    j["model"] = *path;
    j["model_sha256"] = h.model_sha256;
    j["plugin"] = h.plugin_name;
    j["plugin_version"] = h.plugin_version;
    j["abi_version"] = h.abi_version;
    j["soc"] = h.soc;
    j["activations"] = NpuActivationsName(h.activations);
    j["ops_taken"] = h.ops_taken();
    j["ops_left_out"] = h.ops_left_out();
    j["left_out"] = left_out;
    fmt::print("{}\n", j.dump(2));
    return kExitOk;
  }
  fmt::print("artifact        {}\n", artifact->path);
  fmt::print("artifact_sha256 {}\n", artifact->sha256);
  fmt::print("model           {} sha256 {}\n", h.model_name, h.model_sha256);
  fmt::print("plugin          {} {} ({}), ABI {}, SoC {}\n", h.plugin_name, h.plugin_version, h.plugin_vendor,
             h.abi_version, h.soc);
  fmt::print("precision       weights {}; activations {} per token row\n", h.weights,
             NpuActivationsName(h.activations));
  fmt::print("ops_taken       {} of {} matmuls\n", h.ops_taken(), h.ops.size());
  fmt::print("ops_left_out    {}{}\n", h.ops_left_out(), left_out.empty() ? "" : " (run on the CPU):");
  for (const std::string& l : left_out) fmt::print("                  {}\n", l);
  fmt::print("compile_ms      {:.0f} ms\n", compile_ms);
  fmt::print("artifact_bytes  {} bytes ({:.1f} MiB)\n", artifact->bytes.size(),
             static_cast<double>(artifact->bytes.size()) / (1 << 20));
  return kExitOk;
}

}  // namespace

void AddNpuBackendOptions(CLI::App* cmd, NpuBackendOptions* npu) {
  cmd->add_option("--plugin", npu->plugin,
                  "--backend npu: NPU plugin name (vnpu = <plugin-dir>/tlm_npu_vnpu.so) or file in the plugin folder "
                  "(default: the artifact's)");
  cmd->add_option("--soc", npu->soc, "--backend npu: SoC (vnpu: vnpu-small, vnpu-large; default: the artifact's)");
  cmd->add_option("--artifact", npu->artifact,
                  "--backend npu: artifact from tlmbench compile (default: compile in-process when the model loads)");
  cmd->add_option("--plugin-dir", npu->plugin_dir,
                  "--backend npu: the allowlisted plugin folder (default $TLMBENCH_PLUGIN_DIR, else <bin>/../plugins)");
  cmd->add_option("--npu-activations", npu->activations,
                  "--backend npu without --artifact: int8 or int16 activations (default int16)")
      ->check(CLI::IsMember({"int8", "int16"}));
}

void RegisterCompileCommand(CLI::App& app) {
  auto o = std::make_shared<CompileOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compile",
      "Compile a model ahead of time for an NPU plugin and SoC: its matmuls are lowered to int8 per-channel\n"
      "FULLY_CONNECTED ops, the plugin partitions and compiles those it takes, and one content-addressed\n"
      "artifact is written (run it with tlmbench run --backend npu --artifact F). See docs/npu.md.");
  cmd->add_option("-m,--model", o->model, "GGUF model: a path, or a file name in the model cache")->required();
  cmd->add_option("--plugin", o->plugin,
                  "Plugin name (vnpu = <plugin-dir>/tlm_npu_vnpu.so) or file in the plugin folder")
      ->required();
  cmd->add_option("--soc", o->soc, "SoC to compile for (vnpu: vnpu-small, vnpu-large)")->required();
  cmd->add_option("-o,--output", o->output,
                  "Artifact file to write, or an existing folder (the file is then named <sha256>.tlmnpu)")
      ->required();
  cmd->add_option("--plugin-dir", o->plugin_dir,
                  "The allowlisted plugin folder (default $TLMBENCH_PLUGIN_DIR, else <bin>/../plugins)");
  cmd->add_option("--activations", o->activations,
                  "Activation type on the NPU: int16 (per-row scale, int32-safe range) or int8 (per-row scale)")
      ->check(CLI::IsMember({"int8", "int16"}))
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "Print the result as JSON");
  cmd->add_flag("-q,--quiet", o->quiet, "No progress lines on stderr");
  cmd->callback([o] { SetCommandAction([o] { return Compile(*o); }); });
}

}  // namespace tlm
