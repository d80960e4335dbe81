// The selected subcommand's action, and build facts.
#include "harness/cli/commands.h"

#include "tlm_build_commit.h"  // generated: TLM_GIT_COMMIT

namespace tlm {
namespace {
std::function<int()>& Action() {
  static std::function<int()> action;
  return action;
}
}  // namespace

void SetCommandAction(std::function<int()> action) { Action() = std::move(action); }

int RunSelectedCommand() {
  if (!Action()) return kExitBadInput;
  return Action()();
}

const char* BuildCommit() { return TLM_GIT_COMMIT; }

}  // namespace tlm
