// The selected subcommand's action, and build facts.
#include "harness/cli/commands.h"

#ifndef TLM_GIT_COMMIT
#define TLM_GIT_COMMIT "unknown"
#endif

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
