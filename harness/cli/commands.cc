// The selected subcommand's action, and build facts.
#include "harness/cli/commands.h"

#include "tlm_build_commit.h"  // generated: TLM_GIT_COMMIT, TLM_GIT_COMMIT_TIME

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

tlmbench::v1::BuildInfo BuildInfoOfThisBinary() {
  tlmbench::v1::BuildInfo build;
  build.set_git_commit(TLM_GIT_COMMIT);
  build.set_commit_time(TLM_GIT_COMMIT_TIME);
  build.set_version(TLM_VERSION_STRING);
  return build;
}

}  // namespace tlm
