// Subcommand registration for the tlmbench CLI. Each command adds itself to the app and sets the
// action that RunSelectedCommand() runs after parsing.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

#include "tlmbench/v1/run.pb.h"

namespace tlm {

// Exit codes shared by all commands.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;   // the run itself failed (backend error, crash of a step)
inline constexpr int kExitBadInput = 2;  // usage errors, bad files, bad specs

void RegisterRunCommand(CLI::App& app);
void RegisterMakeModelCommand(CLI::App& app);
void RegisterGenerateCommand(CLI::App& app);
void RegisterSweepCommand(CLI::App& app);
void RegisterAgentCommand(CLI::App& app);  // and the hidden `worker`

// The command chosen on the command line sets this during parsing (in its callback).
void SetCommandAction(std::function<int()> action);
int RunSelectedCommand();

const char* BuildCommit();
// Commit, commit time and version of this binary, as results record them.
tlmbench::v1::BuildInfo BuildInfoOfThisBinary();

}  // namespace tlm
