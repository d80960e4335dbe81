// Tests for the CPU probe: /proc/cpuinfo parsing for x86 and Arm, and a live probe of this host.
#include "devices/probe/cpu_info.h"

#include <gtest/gtest.h>

namespace tlm {
namespace {

constexpr std::string_view kX86Cpuinfo =
    "processor\t: 0\n"
    "vendor_id\t: AuthenticAMD\n"
    "model name\t: AMD EPYC 7B13\n"
    "cpu MHz\t\t: 2449.998\n"
    "flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2\n"
    "\n"
    "processor\t: 1\n"
    "model name\t: AMD EPYC 7B13\n"
    "cpu MHz\t\t: 2450.500\n"
    "flags\t\t: fpu vme sse sse2 ssse3 fma cx16 sse4_1 sse4_2 avx f16c avx2 bmi2 avx512f\n";

constexpr std::string_view kArmCpuinfo =
    "processor\t: 0\n"
    "BogoMIPS\t: 48.00\n"
    "Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm "
    "lrcpc dcpop asimddp\n"
    "CPU implementer\t: 0x41\n"
    "CPU architecture: 8\n"
    "CPU part\t: 0xd0b\n";

TEST(CpuInfoParseTest, X86) {
  CpuInfo info;
  ParseProcCpuinfo(kX86Cpuinfo, info);
  EXPECT_EQ(info.model_name, "AMD EPYC 7B13");
  EXPECT_TRUE(info.avx2);
  EXPECT_TRUE(info.fma);
  EXPECT_TRUE(info.f16c);
  EXPECT_FALSE(info.avx512f);  // the first processor's flags decide
  EXPECT_FALSE(info.neon);
  EXPECT_EQ(info.features(), (std::vector<std::string>{"avx2", "fma", "f16c"}));
  ASSERT_EQ(info.cur_freq_mhz_per_cpu.size(), 2u);
  EXPECT_DOUBLE_EQ(info.cur_freq_mhz_per_cpu[1], 2450.5);
  ASSERT_TRUE(info.cur_freq_mhz.has_value());
  EXPECT_DOUBLE_EQ(*info.cur_freq_mhz, 2449.998);
}

TEST(CpuInfoParseTest, FlagsMatchWholeWords) {
  CpuInfo info;
  ParseProcCpuinfo("flags : avx512fp16 fma4 avx2x\n", info);
  EXPECT_FALSE(info.avx512f);
  EXPECT_FALSE(info.fma);
  EXPECT_FALSE(info.avx2);
}

TEST(CpuInfoParseTest, ArmWithoutModelName) {
  CpuInfo info;
  ParseProcCpuinfo(kArmCpuinfo, info);
  EXPECT_EQ(info.model_name, "implementer 0x41 part 0xd0b");
  EXPECT_TRUE(info.neon);
  EXPECT_TRUE(info.dotprod);
  EXPECT_FALSE(info.avx2);
  EXPECT_FALSE(info.cur_freq_mhz.has_value());
}

TEST(CpuInfoProbeTest, ProbesThisHost) {
  auto info = ProbeCpuInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->model_name.empty());
  EXPECT_FALSE(info->architecture.empty());
  EXPECT_GE(info->logical_cores, 1);
  EXPECT_GE(info->available_cores, 1);
  EXPECT_LE(info->available_cores, info->logical_cores);
  EXPECT_GT(info->mem_total_bytes, 0u);
  EXPECT_EQ(info->os_name, "Linux");
  EXPECT_FALSE(info->kernel_release.empty());
  EXPECT_GE(info->load_avg_1m, 0.0);
#if defined(__AVX2__)
  EXPECT_TRUE(info->avx2);  // built for AVX2, so the CPU has it
#endif
#if defined(__aarch64__)
  EXPECT_TRUE(info->neon);
#endif
}

TEST(CpuInfoProbeTest, JsonAndSummary) {
  auto info = ProbeCpuInfo();
  ASSERT_TRUE(info.ok());
  auto j = info->ToJson();
  for (const char* key : {"model_name", "architecture", "logical_cores", "available_cores", "features",
                          "governor", "cur_freq_mhz", "max_freq_mhz", "mem_total_bytes", "os_name",
                          "kernel_release", "load_avg_1m"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["model_name"], info->model_name);
  EXPECT_EQ(j["features"].size(), info->features().size());
  EXPECT_NE(info->Summary().find(info->model_name), std::string::npos);
  CpuInfo empty;
  auto ej = empty.ToJson();
  EXPECT_TRUE(ej["governor"].is_null());
  EXPECT_TRUE(ej["cur_freq_mhz"].is_null());
}

}  // namespace
}  // namespace tlm
