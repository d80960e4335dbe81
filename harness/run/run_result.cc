// Helpers that complete a RunResult: ITL percentiles.
#include "harness/run/run_result.h"

#include "engine/common/stats.h"

namespace tlm {

void FillItlPercentiles(RepetitionResult& rep) {
  Summary s = Summarize(rep.itl_ms);
  rep.itl_p50_ms = s.median;
  rep.itl_p90_ms = s.p90;
  rep.itl_p99_ms = s.p99;
}

}  // namespace tlm
