// Tests of scenario specs: matrix expansion (product, include, exclude, defaults, order), spec
// hashes and run ids, the shipped scenarios/, and located errors for malformed specs.
#include "harness/spec/scenario.h"

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace tlm {
namespace {

using tlmbench::v1::RunSpec;

Scenario MustParse(const std::string& yaml) {
  StatusOr<Scenario> s = ParseScenario(yaml, "t.yaml");
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(s).value() : Scenario{};
}

// The message of the error parsing `yaml` as "bad.yaml" gives; fails the test if it parses.
std::string ErrorOf(const std::string& yaml) {
  StatusOr<Scenario> s = ParseScenario(yaml, "bad.yaml");
  EXPECT_FALSE(s.ok()) << "parsed, expected an error:\n" << yaml;
  if (s.ok()) return "";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  return s.status().message();
}

std::string Point(const RunSpec& r) {
  return r.model() + "|" + r.backend() + "|" + std::to_string(r.threads()) + "|" + std::to_string(r.n_prompt()) + "|" +
         std::to_string(r.n_gen()) + "|" + std::to_string(r.n_ctx()) + "|" + r.activations();
}

TEST(ScenarioTest, CartesianProductInStableOrder) {
  Scenario s = MustParse(R"(name: grid
matrix:
  activations: [f32, q8]     # declared first, still nests fastest
  threads: [1, 2, 4]
  model: [a.gguf, b.gguf]
)");
  ASSERT_EQ(s.runs.size(), 12u);
  std::vector<std::string> got;
  for (const RunSpec& r : s.runs) got.push_back(Point(r));
  EXPECT_EQ(got[0], "a.gguf|cpu|1|512|128|0|f32");
  EXPECT_EQ(got[1], "a.gguf|cpu|1|512|128|0|q8");
  EXPECT_EQ(got[2], "a.gguf|cpu|2|512|128|0|f32");
  EXPECT_EQ(got[5], "a.gguf|cpu|4|512|128|0|q8");
  EXPECT_EQ(got[6], "b.gguf|cpu|1|512|128|0|f32");
  EXPECT_EQ(got[11], "b.gguf|cpu|4|512|128|0|q8");
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 12u);
  // The same text gives the same order and hashes every time.
  Scenario again = MustParse(s.text);
  ASSERT_EQ(again.runs.size(), s.runs.size());
  for (size_t i = 0; i < s.runs.size(); ++i) EXPECT_EQ(again.runs[i].spec_hash(), s.runs[i].spec_hash());
}

TEST(ScenarioTest, DefaultsFillEveryField) {
  Scenario s = MustParse("name: defaults\nmatrix:\n  model: m.gguf\n");
  EXPECT_EQ(s.name, "defaults");
  EXPECT_EQ(s.path, "t.yaml");
  EXPECT_EQ(s.text, "name: defaults\nmatrix:\n  model: m.gguf\n");
  ASSERT_EQ(s.runs.size(), 1u);
  const RunSpec& r = s.runs[0];
  EXPECT_EQ(r.scenario(), "defaults");
  EXPECT_EQ(r.workload(), "generate");
  EXPECT_EQ(Point(r), "m.gguf|cpu|0|512|128|0|f32");
  EXPECT_EQ(r.timeout_s(), 900);
  EXPECT_EQ(r.measurement().warmup(), 1);
  EXPECT_EQ(r.measurement().min_reps(), 3);
  EXPECT_EQ(r.measurement().min_duration_s(), 0);
  EXPECT_EQ(r.measurement().max_reps(), 100);
  EXPECT_EQ(r.measurement().seed(), 42u);
  EXPECT_DOUBLE_EQ(r.measurement().noisy_cv(), 0.10);
  EXPECT_EQ(r.accuracy_tasks_size(), 0);
  EXPECT_FALSE(r.has_null_workload());
  EXPECT_TRUE(r.labels().empty());
  EXPECT_EQ(r.capabilities_size(), 0);
  EXPECT_EQ(r.source(), "t.yaml:2");
  EXPECT_EQ(r.spec_hash(), ComputeSpecHash(r));
  EXPECT_EQ(r.spec_hash().size(), 64u);
  EXPECT_EQ(r.run_id(), "");
  EXPECT_EQ(r.sweep_id(), "");
  EXPECT_EQ(r.attempt(), 0);
}

TEST(ScenarioTest, EveryTopLevelFieldReachesTheRuns) {
  Scenario s = MustParse(R"(name: full
description: all of it
timeout_s: 120.5
measurement: {warmup: 2, min_reps: 4, min_duration_s: 1.5, max_reps: 9, seed: 7, noisy_cv: 0.05}
devices:
  labels: {pool: lab, soc: "8550"}
  capabilities: [avx2, fma]
matrix:
  model: m.gguf
  backend: cpu-xnnpack
  threads: 3
  n_prompt: 10
  n_gen: 0
  n_ctx: 64
  activations: q8
)");
  EXPECT_EQ(s.description, "all of it");
  EXPECT_EQ(s.labels, (std::map<std::string, std::string>{{"pool", "lab"}, {"soc", "8550"}}));
  EXPECT_EQ(s.capabilities, (std::vector<std::string>{"avx2", "fma"}));
  ASSERT_EQ(s.runs.size(), 1u);
  const RunSpec& r = s.runs[0];
  EXPECT_EQ(Point(r), "m.gguf|cpu-xnnpack|3|10|0|64|q8");
  EXPECT_EQ(r.timeout_s(), 120.5);
  EXPECT_EQ(r.measurement().warmup(), 2);
  EXPECT_EQ(r.measurement().min_reps(), 4);
  EXPECT_EQ(r.measurement().min_duration_s(), 1.5);
  EXPECT_EQ(r.measurement().max_reps(), 9);
  EXPECT_EQ(r.measurement().seed(), 7u);
  EXPECT_EQ(r.measurement().noisy_cv(), 0.05);
  EXPECT_EQ(r.labels().at("pool"), "lab");
  EXPECT_EQ(r.labels().at("soc"), "8550");
  ASSERT_EQ(r.capabilities_size(), 2);
  EXPECT_EQ(r.capabilities(1), "fma");
  EXPECT_EQ(r.source(), "t.yaml:8");
}

TEST(ScenarioTest, IncludeExtendsMatchingCombinations) {
  Scenario s = MustParse(R"(name: inc
matrix:
  model: [a.gguf, b.gguf]
  threads: [1, 2]
  include:
    - {model: a.gguf, threads: 1, activations: q8}
    - {n_ctx: 4096}
)");
  ASSERT_EQ(s.runs.size(), 4u);
  EXPECT_EQ(Point(s.runs[0]), "a.gguf|cpu|1|512|128|4096|q8");
  EXPECT_EQ(Point(s.runs[1]), "a.gguf|cpu|2|512|128|4096|f32");
  EXPECT_EQ(Point(s.runs[2]), "b.gguf|cpu|1|512|128|4096|f32");
  EXPECT_EQ(Point(s.runs[3]), "b.gguf|cpu|2|512|128|4096|f32");
  EXPECT_EQ(s.runs[0].source(), "t.yaml:2");  // extended points keep the matrix as their source
}

TEST(ScenarioTest, IncludeAddsAPointWhenNothingMatches) {
  Scenario s = MustParse(R"(name: inc
matrix:
  model: [a.gguf, b.gguf]
  threads: [1, 2]
  include:
    - {model: c.gguf, threads: 8}
    - {model: a.gguf, threads: 4, activations: q8}
)");
  ASSERT_EQ(s.runs.size(), 6u);
  EXPECT_EQ(Point(s.runs[4]), "c.gguf|cpu|8|512|128|0|f32");  // missing axes take the defaults
  EXPECT_EQ(s.runs[4].source(), "t.yaml:6");
  EXPECT_EQ(Point(s.runs[5]), "a.gguf|cpu|4|512|128|0|q8");  // threads 4 is not in the product
  EXPECT_EQ(s.runs[5].source(), "t.yaml:7");
  for (int i = 0; i < 4; ++i) EXPECT_EQ(s.runs[i].activations(), "f32");
}

TEST(ScenarioTest, IncludeOnlyMatrixGivesJustTheEntries) {
  Scenario s = MustParse(R"(name: only
matrix:
  include:
    - {model: a.gguf, threads: 1}
    - {model: b.gguf, threads: 2}
)");
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(Point(s.runs[0]), "a.gguf|cpu|1|512|128|0|f32");
  EXPECT_EQ(Point(s.runs[1]), "b.gguf|cpu|2|512|128|0|f32");
}

TEST(ScenarioTest, ExcludeRemovesEveryMatchingCombination) {
  Scenario s = MustParse(R"(name: exc
matrix:
  model: [a.gguf, b.gguf]
  threads: [1, 2]
  activations: [f32, q8]
  exclude:
    - {threads: 2, activations: q8}
    - {model: b.gguf, threads: 1, activations: f32}
)");
  ASSERT_EQ(s.runs.size(), 5u);
  for (const RunSpec& r : s.runs) {
    EXPECT_FALSE(r.threads() == 2 && r.activations() == "q8") << Point(r);
    EXPECT_NE(Point(r), "b.gguf|cpu|1|512|128|0|f32");
  }
  EXPECT_EQ(Point(s.runs[0]), "a.gguf|cpu|1|512|128|0|f32");
  EXPECT_EQ(Point(s.runs[4]), "b.gguf|cpu|2|512|128|0|f32");
}

TEST(ScenarioTest, IncludeCanAddBackAnExcludedCombination) {
  Scenario s = MustParse(R"(name: back
matrix:
  model: a.gguf
  threads: [1, 2]
  exclude: [{threads: 2}]
  include: [{model: a.gguf, threads: 2, activations: q8}]
)");
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(Point(s.runs[1]), "a.gguf|cpu|2|512|128|0|q8");
}

TEST(ScenarioTest, NullWorkloadNeedsNoModel) {
  Scenario s = MustParse(R"(name: harness-only
workload: null
null:
  sleep_ms: 5
  hang_s: 0.5
  crash: true
  alloc_bytes: 1048576
matrix:
  n_prompt: 0
  threads: [1, 2]
)");
  ASSERT_EQ(s.runs.size(), 2u);
  const RunSpec& r = s.runs[1];
  EXPECT_EQ(r.workload(), "null");
  EXPECT_EQ(r.model(), "");
  EXPECT_EQ(r.threads(), 2);
  EXPECT_EQ(r.n_prompt(), 0);
  ASSERT_TRUE(r.has_null_workload());
  EXPECT_EQ(r.null_workload().sleep_ms(), 5);
  EXPECT_EQ(r.null_workload().hang_s(), 0.5);
  EXPECT_TRUE(r.null_workload().crash());
  EXPECT_EQ(r.null_workload().alloc_bytes(), 1048576u);

  Scenario bare = MustParse("name: bare\nworkload: null\n");
  ASSERT_EQ(bare.runs.size(), 1u);
  EXPECT_EQ(bare.runs[0].source(), "t.yaml:1");
  EXPECT_TRUE(bare.runs[0].has_null_workload());
}

TEST(ScenarioTest, AccuracyCarriesItsTasks) {
  Scenario s = MustParse(R"(name: acc
workload: accuracy
accuracy: {tasks: [kld, ppl]}
matrix: {model: m.gguf, activations: [f32, q8]}
)");
  ASSERT_EQ(s.runs.size(), 2u);
  ASSERT_EQ(s.runs[0].accuracy_tasks_size(), 2);
  EXPECT_EQ(s.runs[0].accuracy_tasks(0), "kld");
  EXPECT_EQ(s.runs[0].accuracy_tasks(1), "ppl");
  EXPECT_EQ(s.runs[0].workload(), "accuracy");
}

TEST(ScenarioTest, SpecHashIsStableAndIgnoresIdentity) {
  Scenario s = MustParse("name: h\nmatrix:\n  model: m.gguf\n  threads: [1, 2]\n");
  ASSERT_EQ(s.runs.size(), 2u);
  RunSpec r = s.runs[0];
  const std::string hash = r.spec_hash();
  EXPECT_NE(hash, s.runs[1].spec_hash());
  EXPECT_EQ(hash, ComputeSpecHash(r));
  // Pinned: datasets store this hash, so a change of defaults or serialization breaks --resume.
  EXPECT_EQ(hash, "3fc4fad3f33b9906be905bddc6bcbf4a675acf0263c9d8aee474549a61caabff");
  r.set_run_id("abc");
  r.set_sweep_id("sweep-1");
  r.set_attempt(3);
  r.set_source("elsewhere.yaml:99");
  r.set_spec_hash("stale");
  EXPECT_EQ(ComputeSpecHash(r), hash);
  r.set_threads(1);
  r.set_n_gen(129);
  EXPECT_NE(ComputeSpecHash(r), hash);

  // Moving the point within the file changes its source, not its hash.
  Scenario moved = MustParse("name: h\n\n\nmatrix:\n  threads: [1, 2]\n  model: m.gguf\n");
  EXPECT_EQ(moved.runs[0].spec_hash(), hash);
  EXPECT_NE(moved.runs[0].source(), s.runs[0].source());
  // The scenario name is part of the point.
  Scenario renamed = MustParse("name: h2\nmatrix:\n  model: m.gguf\n  threads: [1, 2]\n");
  EXPECT_NE(renamed.runs[0].spec_hash(), hash);
}

TEST(ScenarioTest, SpecHashDoesNotDependOnLabelOrder) {
  Scenario a = MustParse("name: l\ndevices: {labels: {a: '1', b: '2', c: '3'}}\nmatrix: {model: m.gguf}\n");
  Scenario b = MustParse("name: l\ndevices: {labels: {c: '3', a: '1', b: '2'}}\nmatrix: {model: m.gguf}\n");
  EXPECT_EQ(a.runs[0].spec_hash(), b.runs[0].spec_hash());
  // Enough labels that a hash map's iteration order would differ between insertion orders.
  std::string forward, backward;
  for (int i = 0; i < 40; ++i) forward += fmt::format("k{}: v{}, ", i, i);
  for (int i = 39; i >= 0; --i) backward += fmt::format("k{}: v{}, ", i, i);
  Scenario f = MustParse(fmt::format("name: l\ndevices: {{labels: {{{}}}}}\nmatrix: {{model: m.gguf}}\n", forward));
  Scenario r = MustParse(fmt::format("name: l\ndevices: {{labels: {{{}}}}}\nmatrix: {{model: m.gguf}}\n", backward));
  ASSERT_EQ(f.runs[0].labels_size(), 40);
  EXPECT_EQ(f.runs[0].spec_hash(), r.runs[0].spec_hash());
}

TEST(ScenarioTest, RunIdsAreDistinctPerOrdinalAndSweep) {
  Scenario s = MustParse("name: ids\nmatrix:\n  model: m.gguf\n  threads: [1, 2]\n");
  const RunSpec& r = s.runs[0];
  const std::string id0 = MakeRunId("sweep-a", r, 0);
  EXPECT_EQ(id0.size(), 20u);
  EXPECT_EQ(id0.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(MakeRunId("sweep-a", r, 0), id0);
  EXPECT_NE(MakeRunId("sweep-a", r, 1), id0);
  EXPECT_NE(MakeRunId("sweep-b", r, 0), id0);
  EXPECT_NE(MakeRunId("sweep-a", s.runs[1], 0), id0);
  RunSpec attempt2 = r;
  attempt2.set_attempt(2);
  attempt2.set_run_id(id0);
  EXPECT_EQ(MakeRunId("sweep-a", attempt2, 0), id0);  // retries keep their run id
}

TEST(ScenarioTest, AssignRunIdsCountsOrdinalsPerIdenticalPoint) {
  Scenario s = MustParse(R"(name: twice
matrix:
  include:
    - {model: m.gguf}
    - {model: m.gguf}
    - {model: n.gguf}
)");
  ASSERT_EQ(s.runs.size(), 3u);
  EXPECT_EQ(s.runs[0].spec_hash(), s.runs[1].spec_hash());
  AssignRunIds("sw", &s.runs);
  EXPECT_EQ(s.runs[0].sweep_id(), "sw");
  EXPECT_EQ(s.runs[0].run_id(), MakeRunId("sw", s.runs[0], 0));
  EXPECT_EQ(s.runs[1].run_id(), MakeRunId("sw", s.runs[1], 1));
  EXPECT_EQ(s.runs[2].run_id(), MakeRunId("sw", s.runs[2], 0));
  EXPECT_NE(s.runs[0].run_id(), s.runs[1].run_id());
}

struct Shipped {
  const char* file;
  const char* name;
  size_t runs;
};

TEST(ScenarioTest, ShippedScenariosParse) {
  const Shipped shipped[] = {{"smoke.yaml", "smoke", 1},
                             {"decode-sweep.yaml", "decode-sweep", 12},
                             {"prefill-sweep.yaml", "prefill-sweep", 18},
                             {"accuracy.yaml", "accuracy", 6},
                             {"ci-regression.yaml", "ci-regression", 1}};
  for (const Shipped& want : shipped) {
    const std::string path = std::string(TLM_SOURCE_DIR) + "/scenarios/" + want.file;
    StatusOr<Scenario> s = LoadScenario(path);
    ASSERT_TRUE(s.ok()) << s.status().message();
    EXPECT_EQ(s->name, want.name);
    EXPECT_EQ(s->runs.size(), want.runs) << want.file;
    EXPECT_FALSE(s->description.empty()) << want.file;
    std::set<std::string> hashes;
    for (const RunSpec& r : s->runs) {
      hashes.insert(r.spec_hash());
      EXPECT_EQ(r.source().rfind(path + ":", 0), 0u) << r.source();
    }
    EXPECT_EQ(hashes.size(), s->runs.size()) << want.file << ": two points are the same";
  }
}

TEST(ScenarioTest, SmokeIsTheMainJobSweep) {
  StatusOr<Scenario> s = LoadScenario(std::string(TLM_SOURCE_DIR) + "/scenarios/smoke.yaml");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->runs.size(), 1u);
  const RunSpec& r = s->runs[0];
  EXPECT_EQ(Point(r), "gemma-3-270m-q4_k_m.gguf|cpu|0|64|32|0|f32");
  EXPECT_EQ(r.measurement().warmup(), 1);
  EXPECT_EQ(r.measurement().min_reps(), 3);
  EXPECT_EQ(r.measurement().min_duration_s(), 0);
  EXPECT_EQ(r.timeout_s(), 600);
}

TEST(ScenarioTest, TheDocumentedExampleGivesElevenRuns) {
  Scenario s = MustParse(R"(name: decode-sweep
matrix:
  model: [gemma-3-270m-q4_k_m.gguf, smollm2-135m-instruct-q4_1.gguf]
  backend: cpu
  threads: [1, 2, 4]
  n_prompt: 16
  n_gen: 128
  activations: [f32, q8]
  exclude:
    - {model: smollm2-135m-instruct-q4_1.gguf, threads: 4}
  include:
    - {model: gemma-3-270m-q4_k_m.gguf, threads: 8, n_prompt: 16}
)");
  ASSERT_EQ(s.runs.size(), 11u);
  EXPECT_EQ(Point(s.runs[10]), "gemma-3-270m-q4_k_m.gguf|cpu|8|16|128|0|f32");
  EXPECT_EQ(s.runs[10].source(), "t.yaml:12");
}

TEST(ScenarioTest, LoadScenarioReportsAMissingFile) {
  StatusOr<Scenario> s = LoadScenario("/nonexistent/dir/x.yaml");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("/nonexistent/dir/x.yaml"), std::string::npos);
}

// Malformed specs: each message starts with "bad.yaml:line:col: field".

TEST(ScenarioErrorTest, UnknownKeySuggestsTheClosestName) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  thread: [1, 2]\n"),
            "bad.yaml:4:3: matrix.thread: unknown key 'thread' (did you mean 'threads'?)");
  EXPECT_EQ(ErrorOf("name: x\nmeasurment:\n  warmup: 1\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:1: measurment: unknown key 'measurment' (did you mean 'measurement'?)");
  EXPECT_EQ(ErrorOf("name: x\nmeasurement: {warmups: 1}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:15: measurement.warmups: unknown key 'warmups' (did you mean 'warmup'?)");
  const std::string far = ErrorOf("name: x\nzzzzzz: 1\nmatrix: {model: m.gguf}\n");
  EXPECT_EQ(far.rfind("bad.yaml:2:1: zzzzzz: unknown key 'zzzzzz' (expected one of: name, description,", 0), 0u) << far;
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  include:\n    - {model: a.gguf, thredas: 1}\n"),
            "bad.yaml:5:23: matrix.include[0].thredas: unknown key 'thredas' (did you mean 'threads'?)");
}

TEST(ScenarioErrorTest, WrongTypes) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: [1, two]\n"),
            "bad.yaml:4:16: matrix.threads[1]: expected an integer, got 'two'");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: 1.5\n"),
            "bad.yaml:4:12: matrix.threads: expected an integer, got '1.5'");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: {a: b}\n"),
            "bad.yaml:3:10: matrix.model: expected a value or a list of values, got a mapping");
  EXPECT_EQ(ErrorOf("name: x\nmeasurement:\n  min_duration_s: soon\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:3:19: measurement.min_duration_s: expected a number, got 'soon'");
  EXPECT_EQ(ErrorOf("name: x\nmeasurement: [1]\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:14: measurement: expected a mapping, got a list");
  EXPECT_EQ(ErrorOf("name: x\nworkload: null\nnull: {crash: maybe}\n"),
            "bad.yaml:3:15: null.crash: expected true or false, got 'maybe'");
  EXPECT_EQ(ErrorOf("name: x\ntimeout_s: .inf\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:12: timeout_s: expected a number, got '.inf'");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: [[1]]\n"),
            "bad.yaml:4:13: matrix.threads[0]: expected an integer, got a list");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  include: {model: a.gguf}\n"),
            "bad.yaml:4:12: matrix.include: expected a list, got a mapping");
}

TEST(ScenarioErrorTest, NegativeAndOutOfRangeNumbers) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: -1\n"),
            "bad.yaml:4:12: matrix.threads: must be 0 or more, got -1");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  n_prompt: [16, 0]\n"),
            "bad.yaml:4:18: matrix.n_prompt[1]: must be at least 1 for workload generate, got 0");
  EXPECT_EQ(ErrorOf("name: x\nmeasurement: {seed: -3}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:21: measurement.seed: must be 0 or more, got -3");
  EXPECT_EQ(ErrorOf("name: x\nmeasurement: {min_reps: 5, max_reps: 2}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:38: measurement.max_reps: max_reps 2 is less than min_reps 5 (0 means no cap)");
  EXPECT_EQ(ErrorOf("name: x\ntimeout_s: -5\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:12: timeout_s: must be 0 or more, got -5");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  n_gen: 99999999999999999999\n"),
            "bad.yaml:4:10: matrix.n_gen: 99999999999999999999 is out of range (0..16777216)");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  n_prompt: 64\n  n_gen: 64\n  n_ctx: 100\n"),
            "bad.yaml:6:3: matrix.n_ctx: n_ctx 100 is less than n_prompt + n_gen = 128 "
            "(model=m.gguf, backend=cpu, threads=0, n_prompt=64, n_gen=64, n_ctx=100, activations=f32)");
}

TEST(ScenarioErrorTest, SyntaxErrorsCarryTheirPlace) {
  const std::string e = ErrorOf("name: x\nmatrix:\n  model: [a.gguf, b.gguf\n  threads: 1\n");
  EXPECT_EQ(e.rfind("bad.yaml:", 0), 0u) << e;
  EXPECT_NE(e.find("YAML syntax error"), std::string::npos) << e;
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n   threads: 1\n"),
            "bad.yaml:4:11: YAML syntax error: illegal map value");
  EXPECT_EQ(ErrorOf("name: x\nmatrix: {model: m.gguf\n"), "bad.yaml:3:1: YAML syntax error: end of map flow not found");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n\tmodel: m.gguf\n"),
            "bad.yaml:3:7: YAML syntax error: illegal map value");  // a tab indents
}

TEST(ScenarioErrorTest, ModelPathsStayInsideTheModelsDir) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: [ok.gguf, ../x.gguf]\n"),
            "bad.yaml:3:20: matrix.model[1]: '../x.gguf' has a '..' component; give a file name relative to the "
            "agent's --models-dir");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: sub/../../x.gguf\n"),
            "bad.yaml:3:10: matrix.model: 'sub/../../x.gguf' has a '..' component; give a file name relative to "
            "the agent's --models-dir");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: /models/x.gguf\n"),
            "bad.yaml:3:10: matrix.model: '/models/x.gguf' is an absolute path; give a file name relative to the "
            "agent's --models-dir");
  EXPECT_EQ(MustParse("name: x\nmatrix:\n  model: family/x..y.gguf\n").runs[0].model(), "family/x..y.gguf");
}

TEST(ScenarioErrorTest, AccuracyNeedsKnownTasks) {
  EXPECT_EQ(ErrorOf("name: x\nworkload: accuracy\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:1:1: accuracy.tasks: required for workload accuracy (one or more of: ppl, kld)");
  EXPECT_EQ(ErrorOf("name: x\nworkload: accuracy\naccuracy: {}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:3:1: accuracy.tasks: required for workload accuracy (one or more of: ppl, kld)");
  EXPECT_EQ(ErrorOf("name: x\nworkload: accuracy\naccuracy:\n  tasks: [ppl, ppx]\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:4:16: accuracy.tasks[1]: 'ppx' is not allowed (did you mean 'ppl'?)");
  EXPECT_EQ(ErrorOf("name: x\nworkload: accuracy\naccuracy:\n  tasks: [ppl, ppl]\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:4:16: accuracy.tasks[1]: 'ppl' is given twice");
  EXPECT_EQ(ErrorOf("name: x\naccuracy: {tasks: [ppl]}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:1: accuracy: only allowed with workload: accuracy (workload is generate)");
}

TEST(ScenarioErrorTest, EmptyMatrixAfterExclude) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: [1, 2]\n  exclude:\n    - {model: m.gguf}\n"),
            "bad.yaml:5:3: matrix.exclude: every combination of the matrix is excluded; nothing is left to run");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: [1, 2]\n  exclude:\n    - {threads: 4}\n"),
            "bad.yaml:6:7: matrix.exclude[0]: matches no combination of the matrix");
}

TEST(ScenarioErrorTest, MissingOrBadRequiredFields) {
  EXPECT_EQ(ErrorOf("matrix: {model: m.gguf}\n"), "bad.yaml:1:1: name: required (letters a-z, digits, '_' and '-')");
  EXPECT_EQ(ErrorOf("name: Smoke Test\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:1:7: name: 'Smoke Test' must be made of a-z, 0-9, '_' and '-'");
  EXPECT_EQ(ErrorOf("name: x\nmatrix: {threads: [1, 2]}\n"),
            "bad.yaml:2:1: matrix.model: required for workload generate (a model file name or a list of them)");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: a.gguf\n  threads: 1\n  include:\n    - {threads: 2}\n"),
            "bad.yaml:6:7: matrix.include[0]: adds a point with no model (backend=cpu, threads=2, n_prompt=512, "
            "n_gen=128, n_ctx=0, activations=f32); workload generate needs one");
  EXPECT_EQ(ErrorOf("name: x\nworkload: generat\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:11: workload: 'generat' is not allowed (did you mean 'generate'?)");
  EXPECT_EQ(ErrorOf("name: x\nnull: {sleep_ms: 1}\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:1: null: only allowed with workload: null (workload is generate)");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  activations: q4\n"),
            "bad.yaml:4:16: matrix.activations: 'q4' is not allowed (did you mean 'q8'?)");
  EXPECT_EQ(ErrorOf(""), "bad.yaml:1:1: expected a mapping of scenario fields (name, matrix, ...), got nothing");
  EXPECT_EQ(ErrorOf("- a\n- b\n"),
            "bad.yaml:1:1: expected a mapping of scenario fields (name, matrix, ...), got a list");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: []\n"), "bad.yaml:3:10: matrix.model: empty list");
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: [1, 2, 1]\n"),
            "bad.yaml:4:19: matrix.threads[2]: '1' is given twice (also at [0])");
}

TEST(ScenarioErrorTest, DuplicateKeys) {
  EXPECT_EQ(ErrorOf("name: x\nmatrix:\n  model: m.gguf\n  threads: 1\n  threads: 2\n"),
            "bad.yaml:5:3: matrix.threads: duplicate key (first given at line 4)");
  EXPECT_EQ(ErrorOf("name: x\nname: y\nmatrix: {model: m.gguf}\n"),
            "bad.yaml:2:1: name: duplicate key (first given at line 1)");
}

TEST(ScenarioErrorTest, MoreThanOneDocument) {
  const std::string e = ErrorOf("name: x\nmatrix: {model: m.gguf}\n---\nname: y\n");
  EXPECT_EQ(e.rfind("bad.yaml:4:1: a scenario is one YAML document", 0), 0u) << e;
}

}  // namespace
}  // namespace tlm
