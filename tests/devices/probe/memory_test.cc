// Tests for the memory probes: parsing, live snapshots, mincore residency and the peak tracker.
#include "devices/probe/memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace tlm {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

constexpr std::string_view kRollup =
    "55832edb2000-7ffd67301000 ---p 00000000 00:00 0                          [rollup]\n"
    "Rss:                1636 kB\n"
    "Pss:                 269 kB\n"
    "Pss_Anon:            112 kB\n"
    "Pss_File:            157 kB\n"
    "Pss_Shmem:             0 kB\n"
    "Private_Dirty:       112 kB\n"
    "Anonymous:           112 kB\n"
    "AnonHugePages:         0 kB\n";
constexpr std::string_view kStatus =
    "Name:\tcat\n"
    "VmHWM:\t    2308 kB\n"
    "VmRSS:\t    2308 kB\n"
    "RssAnon:\t     152 kB\n"
    "RssFile:\t    2140 kB\n"
    "RssShmem:\t      16 kB\n";

// An anonymous mapping that unmaps itself.
struct Mapping {
  explicit Mapping(size_t bytes) : size(bytes) {
    data = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  }
  ~Mapping() {
    if (data != MAP_FAILED) munmap(data, size);
  }
  void Touch(size_t from, size_t bytes) {
    for (size_t i = from; i < from + bytes; i += kPage) data[i] = 1;
  }
  char* data;
  size_t size;
};

TEST(MemoryParseTest, SmapsRollupDerivation) {
  auto s = ParseSmapsRollup(kRollup, kStatus);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->rss_bytes, 1636u * 1024);
  EXPECT_EQ(s->rss_anon_bytes, 112u * 1024);        // "Anonymous:", not "Pss_Anon:"
  EXPECT_EQ(s->rss_shmem_bytes, 16u * 1024);        // RssShmem of status
  EXPECT_EQ(s->rss_file_bytes, (1636u - 112 - 16) * 1024);
  EXPECT_EQ(s->faults_major, 0u);
}

TEST(MemoryParseTest, SmapsRollupWithoutShmemLineAndClamping) {
  auto s = ParseSmapsRollup("Rss: 100 kB\nAnonymous: 90 kB\n", "RssShmem: 20 kB\n");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rss_file_bytes, 0u);  // 100 - 90 - 20 would be negative
  auto no_shmem = ParseSmapsRollup("Rss: 100 kB\nAnonymous: 90 kB\n", "");
  ASSERT_TRUE(no_shmem.ok());
  EXPECT_EQ(no_shmem->rss_shmem_bytes, 0u);
  EXPECT_EQ(no_shmem->rss_file_bytes, 10u * 1024);
}

TEST(MemoryParseTest, MissingLineIsDataLossNamingTheFile) {
  auto s = ParseSmapsRollup("Rss: 100 kB\nPss_Anon: 5 kB\n", "", "/proc/self/smaps_rollup");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find("/proc/self/smaps_rollup"), std::string::npos);
  EXPECT_NE(s.status().message().find("Anonymous"), std::string::npos);
}

TEST(MemoryParseTest, ProcStatus) {
  auto s = ParseProcStatus(kStatus);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->rss_bytes, 2308u * 1024);
  EXPECT_EQ(s->rss_anon_bytes, 152u * 1024);
  EXPECT_EQ(s->rss_file_bytes, 2140u * 1024);
  EXPECT_EQ(s->rss_shmem_bytes, 16u * 1024);
  EXPECT_FALSE(ParseProcStatus("VmRSS: 1 kB\n").ok());
}

TEST(MemorySnapshotTest, ReadsThisProcess) {
  for (MemorySource source : {MemorySource::kSmapsRollup, MemorySource::kProcStatus}) {
    auto s = ReadMemorySnapshot(source);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_GT(s->rss_bytes, 0u);
    EXPECT_GT(s->rss_anon_bytes, 0u);
    EXPECT_GT(s->rss_file_bytes, 0u);  // the test binary and libc are file-backed
    EXPECT_GT(s->faults_minor, 0u);
    EXPECT_LE(s->rss_anon_bytes + s->rss_file_bytes, s->rss_bytes + 64 * kPage);
  }
}

TEST(MemorySnapshotTest, UnreadableProcIsAClearError) {
  MemoryProcPaths paths{.smaps_rollup = "/nonexistent/smaps_rollup", .status = "/proc/self/status"};
  auto s = ReadMemorySnapshot(MemorySource::kSmapsRollup, paths);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(s.status().message().find("/nonexistent/smaps_rollup"), std::string::npos);
  EXPECT_NE(s.status().message().find("/proc"), std::string::npos);
}

TEST(MemorySnapshotTest, AnonymousMemoryShowsAsAnon) {
  auto before = ReadMemorySnapshot();
  ASSERT_TRUE(before.ok());
  Mapping m(64 * kMiB);
  ASSERT_NE(m.data, MAP_FAILED);
  m.Touch(0, m.size);
  auto after = ReadMemorySnapshot();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->rss_anon_bytes, before->rss_anon_bytes + 60 * kMiB);
  EXPECT_LT(after->rss_file_bytes, before->rss_file_bytes + 8 * kMiB);
  EXPECT_GE(after->faults_minor, before->faults_minor + 64 * kMiB / kPage / 2);  // THP may merge
}

TEST(MemorySnapshotTest, MappedFileShowsAsFileAndResident) {
  char path[] = "/tmp/tlm_memory_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  unlink(path);
  const size_t size = 16 * kMiB;
  std::string block(kPage, 'x');
  for (size_t off = 0; off < size; off += kPage) ASSERT_EQ(write(fd, block.data(), kPage), ssize_t(kPage));
  auto before = ReadMemorySnapshot();
  ASSERT_TRUE(before.ok());
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ASSERT_NE(map, MAP_FAILED);
  auto untouched = ResidentBytes(map, size);
  ASSERT_TRUE(untouched.ok());  // page-cache pages count as resident even before this process maps them
  volatile char sum = 0;
  for (size_t off = 0; off < size; off += kPage) sum = sum + static_cast<const char*>(map)[off];
  auto after = ReadMemorySnapshot();
  ASSERT_TRUE(after.ok());
  EXPECT_GE(after->rss_file_bytes, before->rss_file_bytes + 15 * kMiB);
  EXPECT_LT(after->rss_anon_bytes, before->rss_anon_bytes + 4 * kMiB);
  auto resident = ResidentBytes(map, size);
  ASSERT_TRUE(resident.ok());
  EXPECT_EQ(*resident, size);
  munmap(map, size);
  close(fd);
}

TEST(ResidentBytesTest, ZeroLength) {
  auto r = ResidentBytes(nullptr, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
}

TEST(ResidentBytesTest, CountsTouchedPagesOnly) {
  Mapping m(16 * kPage);
  ASSERT_NE(m.data, MAP_FAILED);
  auto none = ResidentBytes(m.data, m.size);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  m.Touch(3 * kPage, 3 * kPage);  // pages 3, 4, 5
  auto three = ResidentBytes(m.data, m.size);
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(*three, 3 * kPage);
  madvise(m.data + 4 * kPage, kPage, MADV_DONTNEED);  // drop page 4
  auto two = ResidentBytes(m.data, m.size);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(*two, 2 * kPage);
}

TEST(ResidentBytesTest, UnalignedRangeCountsOnlyItsBytes) {
  Mapping m(8 * kPage);
  ASSERT_NE(m.data, MAP_FAILED);
  m.Touch(0, m.size);
  // From the middle of page 1 to a quarter into page 3: half a page + a page + a quarter page.
  auto r = ResidentBytes(m.data + kPage + kPage / 2, kPage / 2 + kPage + kPage / 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, kPage / 2 + kPage + kPage / 4);
  auto one_byte = ResidentBytes(m.data + 5 * kPage + 7, 1);
  ASSERT_TRUE(one_byte.ok());
  EXPECT_EQ(*one_byte, 1u);
}

TEST(ResidentBytesTest, LargeRangeSpansSeveralChunks) {
  Mapping m(80 * kMiB);  // more pages than one mincore chunk
  ASSERT_NE(m.data, MAP_FAILED);
  m.Touch(0, 40 * kMiB);
  auto r = ResidentBytes(m.data, m.size);
  ASSERT_TRUE(r.ok());
  EXPECT_GE(*r, 40 * kMiB);  // transparent huge pages may make neighbours resident too
  EXPECT_LE(*r, m.size);
}

TEST(ResidentBytesTest, UnmappedRangeIsAnError) {
  void* p = mmap(nullptr, 4 * kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  munmap(p, 4 * kPage);
  auto r = ResidentBytes(p, 4 * kPage);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("not fully mapped"), std::string::npos);
}

// Waits until the background thread has taken `more` samples beyond `from`.
bool WaitForSamples(const PeakMemoryTracker& tracker, uint64_t from, uint64_t more) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (tracker.Peaks().samples < from + more) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(PeakMemoryTrackerTest, BackgroundThreadCatchesAPeakThatIsGone) {
  PeakMemoryTracker tracker(PeakMemoryTracker::Options{.interval = std::chrono::milliseconds(2)});
  ASSERT_TRUE(tracker.Start().ok());
  const MemoryPeaks start = tracker.Peaks();
  EXPECT_EQ(start.samples, 1u);  // Start() samples synchronously
  {
    Mapping m(48 * kMiB);
    ASSERT_NE(m.data, MAP_FAILED);
    m.Touch(0, m.size);
    const uint64_t now = tracker.Peaks().samples;
    ASSERT_TRUE(WaitForSamples(tracker, now, 3));  // only the thread samples here
  }
  ASSERT_TRUE(tracker.Stop().ok());
  MemoryPeaks peaks = tracker.Peaks();
  EXPECT_GE(peaks.rss_peak_anon_bytes, start.last.rss_anon_bytes + 40 * kMiB);
  EXPECT_LT(peaks.last.rss_anon_bytes, peaks.rss_peak_anon_bytes - 40 * kMiB);  // freed again
  EXPECT_GE(peaks.rss_peak_bytes, peaks.rss_peak_anon_bytes);
  EXPECT_GT(peaks.rss_peak_file_bytes, 0u);
}

TEST(PeakMemoryTrackerTest, SampleNowOnDemandAndReset) {
  PeakMemoryTracker tracker;
  auto s = tracker.SampleNow();  // works without the thread
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(tracker.Peaks().samples, 1u);
  EXPECT_EQ(tracker.Peaks().rss_peak_anon_bytes, s->rss_anon_bytes);
  tracker.ResetPeaks();
  EXPECT_EQ(tracker.Peaks().samples, 0u);
  EXPECT_EQ(tracker.Peaks().rss_peak_anon_bytes, 0u);
}

TEST(PeakMemoryTrackerTest, StartTwiceFailsStopTwiceIsFine) {
  PeakMemoryTracker tracker;
  ASSERT_TRUE(tracker.Start().ok());
  EXPECT_FALSE(tracker.Start().ok());
  EXPECT_TRUE(tracker.Stop().ok());
  EXPECT_TRUE(tracker.Stop().ok());
  EXPECT_TRUE(tracker.Start().ok());  // restartable; the destructor stops it
}

TEST(PeakMemoryTrackerTest, UnreadableProcFailsStart) {
  PeakMemoryTracker tracker(PeakMemoryTracker::Options{
      .paths = {.smaps_rollup = "/nonexistent/smaps_rollup", .status = "/nonexistent/status"}});
  Status status = tracker.Start();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("starting the memory tracker"), std::string::npos);
  EXPECT_TRUE(tracker.Stop().ok());  // never started
}

TEST(PeakMemoryTrackerTest, RejectsANonPositiveInterval) {
  PeakMemoryTracker tracker(PeakMemoryTracker::Options{.interval = std::chrono::microseconds(0)});
  Status status = tracker.Start();
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
}

TEST(PeakMemoryTrackerTest, ProcStatusSource) {
  PeakMemoryTracker tracker(PeakMemoryTracker::Options{.interval = std::chrono::milliseconds(1),
                                                       .source = MemorySource::kProcStatus});
  ASSERT_TRUE(tracker.Start().ok());
  ASSERT_TRUE(WaitForSamples(tracker, 1, 2));
  ASSERT_TRUE(tracker.Stop().ok());
  EXPECT_GT(tracker.Peaks().rss_peak_anon_bytes, 0u);
}

TEST(PeakMemoryTrackerTest, ExactBackgroundSourceOnRequest) {
  PeakMemoryTracker tracker(PeakMemoryTracker::Options{
      .interval = std::chrono::milliseconds(1), .background_source = MemorySource::kSmapsRollup});
  ASSERT_TRUE(tracker.Start().ok());
  ASSERT_TRUE(WaitForSamples(tracker, 1, 2));
  ASSERT_TRUE(tracker.Stop().ok());
  EXPECT_GT(tracker.Peaks().rss_peak_anon_bytes, 0u);
  EXPECT_GT(tracker.Peaks().rss_peak_file_bytes, 0u);
}

}  // namespace
}  // namespace tlm
