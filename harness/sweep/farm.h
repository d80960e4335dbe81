// farm.yaml: the agents of a farm and how to reach them, for `tlmbench sweep --farm`.
//
//   agents:
//     - address: pi5-01.lab:50051
//       auth_token_file: /etc/tlmbench/token      # or tls: {ca: ca.pem, cert: client.pem, key: client.key}
//     - address: 10.0.0.7:50051
//   defaults:                                     # applied to every agent that does not say otherwise
//     auth_token_file: /etc/tlmbench/token
//
// Relative file names are relative to the farm file's folder.
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"
#include "harness/sweep/controller.h"

namespace tlm {

StatusOr<std::vector<AgentEndpoint>> LoadFarm(const std::string& path);

// "host:port,host2:port2" with the same credentials for each.
StatusOr<std::vector<AgentEndpoint>> ParseAgentList(std::string_view list, const AgentEndpoint& credentials);

// Reads a token file (trailing newline dropped) or a PEM file; errors name the file and the flag.
StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view what);

}  // namespace tlm
