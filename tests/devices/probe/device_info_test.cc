// Tests for the device probe: a live probe of this machine (OpenCL and Vulkan devices included),
// models and NPU plugin listings, --labels parsing and matching a run's requirements.
#include "devices/probe/device_info.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <gtest/gtest.h>

namespace tlm {
namespace {

namespace fs = std::filesystem;
namespace v1 = tlmbench::v1;

// A fresh directory under the temp dir, removed with the fixture.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "tlm_device_info_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Write(const std::string& name, const std::string& bytes) const {
    fs::create_directories((path_ / name).parent_path());
    std::ofstream(path_ / name, std::ios::binary) << bytes;
  }

 private:
  fs::path path_;
};

bool EnvIsOne(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::string(value) == "1";
}

const v1::BackendCapability* FindBackend(const v1::DeviceInfo& device, const std::string& name) {
  for (const auto& b : device.backends()) {
    if (b.name() == name) return &b;
  }
  return nullptr;
}

const v1::DeviceInfo& LiveDevice() {
  static const v1::DeviceInfo device = [] {
    DeviceProbeOptions options;
    options.labels = {{"rack", "a1"}};
    return ProbeDevice(options);
  }();
  return device;
}

TEST(ProbeDeviceTest, HostFacts) {
  const v1::DeviceInfo& device = LiveDevice();
  std::cout << device.DebugString();
  EXPECT_FALSE(device.hostname().empty());
  EXPECT_EQ(device.name(), device.hostname());  // no --name given
  EXPECT_EQ(device.labels().at("rack"), "a1");
  EXPECT_GT(device.cpu().logical_cpus(), 0);
  EXPECT_GT(device.cpu().physical_cores(), 0);
  EXPECT_LE(device.cpu().physical_cores(), device.cpu().logical_cpus());
  EXPECT_FALSE(device.cpu().model().empty());
  EXPECT_GT(device.memory_bytes(), 0u);
  EXPECT_FALSE(device.os().empty());
  EXPECT_EQ(device.kernel().rfind("Linux ", 0), 0u) << device.kernel();
  EXPECT_FALSE(device.arch().empty());
  EXPECT_EQ(device.models_size(), 0);       // no models dir given
  EXPECT_EQ(device.npu_plugins_size(), 0);  // no plugin dir given
}

TEST(ProbeDeviceTest, NameOverridesHostname) {
  DeviceProbeOptions options;
  options.name = "bench-7";
  EXPECT_EQ(ProbeDevice(options).name(), "bench-7");
}

TEST(ProbeDeviceTest, EveryDesignBackendIsListedAndCpuIsAvailable) {
  const v1::DeviceInfo& device = LiveDevice();
  for (const std::string& name : DesignBackendNames()) {
    const v1::BackendCapability* b = FindBackend(device, name);
    ASSERT_NE(b, nullptr) << name;
    if (!b->available()) {
      EXPECT_FALSE(b->reason().empty()) << name;
    }
  }
  const v1::BackendCapability* cpu = FindBackend(device, "cpu");
  EXPECT_TRUE(cpu->available());
  EXPECT_FALSE(cpu->description().empty());
  // Without engine backends, the others are not built; the reason still says what the device has.
  const v1::BackendCapability* opencl = FindBackend(device, "opencl");
  EXPECT_FALSE(opencl->available());
  EXPECT_NE(opencl->reason().find("not built into this tlmbench"), std::string::npos);
  EXPECT_NE(opencl->reason().find("OpenCL"), std::string::npos) << opencl->reason();
  const v1::BackendCapability* vulkan = FindBackend(device, "vulkan");
  EXPECT_NE(vulkan->reason().find("Vulkan"), std::string::npos) << vulkan->reason();
}

TEST(ProbeDeviceTest, EngineBackendsReplaceTheDesignDefaults) {
  DeviceProbeOptions options;
  options.engine_backends.push_back(EngineBackendCapability("cpu", "reference CPU backend", Status::Ok()));
  options.engine_backends.push_back(EngineBackendCapability("opencl", "", Unavailable("no OpenCL device with fp16")));
  options.engine_backends.push_back(EngineBackendCapability("null", "no model", Status::Ok()));
  const v1::DeviceInfo device = ProbeDevice(options);
  ASSERT_EQ(device.backends_size(), static_cast<int>(DesignBackendNames().size()) + 1);
  EXPECT_EQ(device.backends(0).name(), "cpu");
  EXPECT_EQ(device.backends(0).description(), "reference CPU backend");
  const v1::BackendCapability* opencl = FindBackend(device, "opencl");
  EXPECT_FALSE(opencl->available());
  EXPECT_EQ(opencl->reason(), "no OpenCL device with fp16");
  EXPECT_EQ(device.backends(device.backends_size() - 1).name(), "null");
  EXPECT_TRUE(device.backends(device.backends_size() - 1).available());
}

TEST(ProbeDeviceTest, OpenClDevices) {
  const v1::DeviceInfo& device = LiveDevice();
  if (device.opencl_devices_size() == 0) {
    std::cerr << "\n*** NO OPENCL DEVICE FOUND: " << device.opencl_error()
              << "\n*** (install pocl-opencl-icd, see scripts/setup; set TLM_REQUIRE_OPENCL=1 to fail on this)\n\n";
    EXPECT_FALSE(device.opencl_error().empty());
    if (EnvIsOne("TLM_REQUIRE_OPENCL")) FAIL() << "TLM_REQUIRE_OPENCL=1 but " << device.opencl_error();
    GTEST_SKIP() << "no OpenCL device: " << device.opencl_error();
  }
  EXPECT_TRUE(device.opencl_error().empty());
  for (int i = 0; i < device.opencl_devices_size(); ++i) {
    const v1::OpenClDevice& d = device.opencl_devices(i);
    EXPECT_EQ(d.device_index(), i);
    EXPECT_FALSE(d.name().empty());
    EXPECT_FALSE(d.platform().empty());
    EXPECT_FALSE(d.version().empty());
    EXPECT_FALSE(d.type().empty());
    EXPECT_GT(d.compute_units(), 0);
    EXPECT_GT(d.global_mem_bytes(), 0u);
  }
}

TEST(ProbeDeviceTest, VulkanDevices) {
  const v1::DeviceInfo& device = LiveDevice();
  if (device.vulkan_devices_size() == 0) {
    std::cerr << "\n*** NO VULKAN DEVICE FOUND: " << device.vulkan_error()
              << "\n*** (install mesa-vulkan-drivers for lavapipe, see scripts/setup; set TLM_REQUIRE_VULKAN=1 to "
                 "fail on this)\n\n";
    EXPECT_FALSE(device.vulkan_error().empty());
    if (EnvIsOne("TLM_REQUIRE_VULKAN")) FAIL() << "TLM_REQUIRE_VULKAN=1 but " << device.vulkan_error();
    GTEST_SKIP() << "no Vulkan device: " << device.vulkan_error();
  }
  EXPECT_TRUE(device.vulkan_error().empty());
  for (int i = 0; i < device.vulkan_devices_size(); ++i) {
    const v1::VulkanDevice& d = device.vulkan_devices(i);
    EXPECT_EQ(d.index(), i);
    EXPECT_FALSE(d.name().empty());
    EXPECT_FALSE(d.type().empty());
    EXPECT_EQ(d.api_version().rfind("1.", 0), 0u) << d.api_version();
  }
}

TEST(ErrorNamesTest, OpenClAndVulkan) {
  EXPECT_EQ(OpenClErrorName(-1001), "CL_PLATFORM_NOT_FOUND_KHR");
  EXPECT_EQ(OpenClErrorName(-1), "CL_DEVICE_NOT_FOUND");
  EXPECT_EQ(OpenClErrorName(-12345), "CL_ERROR");
  EXPECT_EQ(VulkanResultName(-9), "VK_ERROR_INCOMPATIBLE_DRIVER");
  EXPECT_EQ(VulkanResultName(-12345), "VK_RESULT");
}

TEST(ListingTest, ModelsAreGgufFilesSortedWithSizes) {
  TempDir dir;
  dir.Write("smollm2-135m.gguf", std::string(1234, 'x'));
  dir.Write("gemma-3-270m.gguf", std::string(10, 'x'));
  dir.Write("notes.txt", "not a model");
  dir.Write("model.gguf.part", "partial download");
  fs::create_directories(dir.path() / "sub.gguf");  // a directory, not a model
  fs::create_symlink(dir.path() / "gemma-3-270m.gguf", dir.path() / "link.gguf");

  DeviceProbeOptions options;
  options.models_dir = dir.path().string();
  const v1::DeviceInfo device = ProbeDevice(options);
  ASSERT_EQ(device.models_size(), 3);
  EXPECT_EQ(device.models(0).name(), "gemma-3-270m.gguf");
  EXPECT_EQ(device.models(0).size_bytes(), 10u);
  EXPECT_EQ(device.models(1).name(), "link.gguf");
  EXPECT_EQ(device.models(1).size_bytes(), 10u);
  EXPECT_EQ(device.models(2).name(), "smollm2-135m.gguf");
  EXPECT_EQ(device.models(2).size_bytes(), 1234u);

  EXPECT_TRUE(ListModelFiles((dir.path() / "missing").string()).empty());
}

TEST(ListingTest, NpuPluginsAreTlmNpuSoFiles) {
  TempDir dir;
  dir.Write("tlm_npu_qnn_htp.so", "elf");
  dir.Write("tlm_npu_neuron.so", "elf");
  dir.Write("libQnnHtp.so", "a vendor runtime library, not a tlmbench plugin");
  dir.Write("readme.so", "not tlm_npu_*");
  dir.Write("tlm_npu_foo.so.1", "versioned, not listed");
  DeviceProbeOptions options;
  options.npu_plugin_dir = dir.path().string();
  const v1::DeviceInfo device = ProbeDevice(options);
  ASSERT_EQ(device.npu_plugins_size(), 2);
  EXPECT_EQ(device.npu_plugins(0).path(), (dir.path() / "tlm_npu_neuron.so").string());
  EXPECT_EQ(device.npu_plugins(1).path(), (dir.path() / "tlm_npu_qnn_htp.so").string());
  EXPECT_TRUE(device.npu_plugins(0).error().empty());
  const v1::BackendCapability* npu = FindBackend(device, "npu");
  ASSERT_NE(npu, nullptr);
  EXPECT_FALSE(npu->available());
  EXPECT_NE(npu->reason().find("NPU plugins present: 2"), std::string::npos) << npu->reason();
}

TEST(ParseTest, PhysicalCoresFromSysfsTopology) {
  TempDir sys;
  // 4 logical CPUs, 2 cores with 2 threads each.
  const int core_of[] = {0, 1, 0, 1};
  for (int cpu = 0; cpu < 4; ++cpu) {
    const std::string topo = "devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    sys.Write(topo + "physical_package_id", "0\n");
    sys.Write(topo + "core_id", std::to_string(core_of[cpu]) + "\n");
  }
  EXPECT_EQ(CountPhysicalCores(sys.path().string(), ""), 2);
}

TEST(ParseTest, PhysicalCoresFromCpuinfo) {
  const std::string cpuinfo =
      "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 1\nphysical id\t: 0\ncore id\t\t: 0\n\n"
      "processor\t: 2\nphysical id\t: 1\ncore id\t\t: 0\n\n"
      "processor\t: 3\nphysical id\t: 1\ncore id\t\t: 1\n";
  EXPECT_EQ(CountPhysicalCores("/nonexistent", cpuinfo), 3);
  EXPECT_EQ(CountPhysicalCores("/nonexistent", "processor : 0\nFeatures : asimd\n"), 0);
}

TEST(ParseTest, OsReleasePrettyName) {
  EXPECT_EQ(ParseOsReleasePrettyName("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
            "Debian GNU/Linux 12 (bookworm)");
  EXPECT_EQ(ParseOsReleasePrettyName("PRETTY_NAME=Alpine\n"), "Alpine");
  EXPECT_EQ(ParseOsReleasePrettyName("NAME=x\n"), "");
}

TEST(ParseLabelsTest, Good) {
  auto labels = ParseLabels("soc=rk3588, board = orangepi5 ,,npu=");
  ASSERT_TRUE(labels.ok()) << labels.status().ToString();
  EXPECT_EQ(*labels, (std::map<std::string, std::string>{{"soc", "rk3588"}, {"board", "orangepi5"}, {"npu", ""}}));
  auto empty = ParseLabels("");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  auto with_eq = ParseLabels("k=a=b");
  ASSERT_TRUE(with_eq.ok());
  EXPECT_EQ(with_eq->at("k"), "a=b");
}

TEST(ParseLabelsTest, BadItemsAreNamed) {
  auto no_eq = ParseLabels("soc=rk3588,orangepi5");
  ASSERT_FALSE(no_eq.ok());
  EXPECT_EQ(no_eq.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_eq.status().message().find("\"orangepi5\""), std::string::npos) << no_eq.status().message();
  auto empty_key = ParseLabels("=x");
  ASSERT_FALSE(empty_key.ok());
  EXPECT_NE(empty_key.status().message().find("\"=x\""), std::string::npos);
  auto twice = ParseLabels("a=1,a=2");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("twice"), std::string::npos);
}

v1::DeviceInfo FakeDevice() {
  v1::DeviceInfo device;
  (*device.mutable_labels())["soc"] = "rk3588";
  device.mutable_cpu()->add_isa_features("neon");
  device.mutable_cpu()->add_isa_features("dotprod");
  auto add = [&](const std::string& name, bool available, const std::string& reason) {
    v1::BackendCapability* b = device.add_backends();
    b->set_name(name);
    b->set_available(available);
    b->set_reason(reason);
  };
  add("cpu", true, "");
  add("opencl", true, "");
  add("vulkan", false, "no Vulkan device");
  device.add_opencl_devices()->set_name("Mali-G610");
  return device;
}

TEST(DeviceMatchesTest, Matches) {
  const v1::DeviceInfo device = FakeDevice();
  std::string why = "untouched";
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "cpu", &why));
  EXPECT_TRUE(DeviceMatches(device, {{"soc", "rk3588"}}, {"neon", "dotprod", "opencl"}, "opencl:0", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "cpu", nullptr));
  EXPECT_EQ(why, "untouched");
}

TEST(DeviceMatchesTest, ReasonsWhyNot) {
  const v1::DeviceInfo device = FakeDevice();
  std::string why;
  EXPECT_FALSE(DeviceMatches(device, {{"soc", "sm8650"}}, {}, "cpu", &why));
  EXPECT_NE(why.find("soc=sm8650"), std::string::npos) << why;
  EXPECT_NE(why.find("soc=rk3588"), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {{"board", "x"}}, {}, "cpu", &why));
  EXPECT_NE(why.find("no board"), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {"avx2"}, "cpu", &why));
  EXPECT_NE(why.find("\"avx2\""), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {"vulkan"}, "cpu", &why));  // listed, but unavailable
  EXPECT_NE(why.find("\"vulkan\""), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "vulkan:0", &why));
  EXPECT_EQ(why, "backend \"vulkan\" unavailable: no Vulkan device");
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "npu", &why));
  EXPECT_NE(why.find("unknown"), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "opencl:1", &why));
  EXPECT_NE(why.find("device 1 does not exist"), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "vulkan", nullptr));
}

TEST(DeviceMatchesTest, NpuPluginsAndSocs) {
  v1::DeviceInfo device = FakeDevice();
  v1::BackendCapability* npu = device.add_backends();
  npu->set_name("npu");
  npu->set_available(true);
  v1::NpuPlugin* vnpu = device.add_npu_plugins();
  vnpu->set_path("/opt/plugins/tlm_npu_vnpu.so");
  vnpu->add_socs("vnpu-small");
  vnpu->add_socs("vnpu-large");
  v1::NpuPlugin* crashy = device.add_npu_plugins();
  crashy->set_path("/opt/plugins/tlm_npu_crashy.so");
  crashy->set_error("loading it crashed: killed by SIGSEGV (Segmentation fault)");
  device.add_npu_plugins()->set_path("/opt/plugins/tlm_npu_unprobed.so");  // no SoCs, no error
  std::string why;
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "npu", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "npu:vnpu", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "npu:vnpu:vnpu-large", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "npu:plugin=vnpu,soc=vnpu-small,activations=int8", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {}, "npu:unprobed:anything", &why));
  EXPECT_TRUE(DeviceMatches(device, {}, {"npu:vnpu:vnpu-small"}, "cpu", &why));
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "npu:vnpu:hexagon-v75", &why));
  EXPECT_EQ(why, "npu plugin vnpu serves SoCs vnpu-small, vnpu-large, not hexagon-v75");
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "npu:crashy", &why));
  EXPECT_NE(why.find("npu plugin crashy cannot be used: loading it crashed: killed by SIGSEGV"), std::string::npos) << why;
  EXPECT_FALSE(DeviceMatches(device, {}, {}, "npu:qnn:sm8650", &why));
  EXPECT_EQ(why, "npu plugin qnn (tlm_npu_qnn.so) is not in the device's plugin folder");
  EXPECT_FALSE(DeviceMatches(device, {}, {"npu:vnpu:hexagon-v75"}, "cpu", &why));
  EXPECT_NE(why.find("\"npu:vnpu:hexagon-v75\""), std::string::npos) << why;
  npu->set_available(false);
  EXPECT_FALSE(DeviceMatches(device, {}, {"npu:vnpu"}, "cpu", &why));
}

}  // namespace
}  // namespace tlm
