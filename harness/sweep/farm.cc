// farm.yaml and --agents lists (see farm.h).
#include "harness/sweep/farm.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <yaml-cpp/yaml.h>

namespace tlm {
namespace {

std::string At(const std::string& path, const YAML::Node& n) {
  return fmt::format("{}:{}:{}", path, n.Mark().line + 1, n.Mark().column + 1);
}

}  // namespace

StatusOr<std::string> ReadSecretFile(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot read {}", what, path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.find("-----BEGIN") == std::string::npos)
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  if (s.empty()) return InvalidArgument("{}: {} is empty", what, path);
  return s;
}

StatusOr<std::vector<AgentEndpoint>> ParseAgentList(std::string_view list, const AgentEndpoint& credentials) {
  std::vector<AgentEndpoint> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    std::string item(list.substr(start, end - start));
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) {
      const size_t colon = item.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == item.size() ||
          item.find_first_not_of("0123456789", colon + 1) != std::string::npos)
        return InvalidArgument("--agents: '{}' is not host:port", item);
      AgentEndpoint ep = credentials;
      ep.address = item;
      out.push_back(std::move(ep));
    }
    start = end + 1;
  }
  if (out.empty()) return InvalidArgument("--agents is empty");
  return out;
}

StatusOr<std::vector<AgentEndpoint>> LoadFarm(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return NotFound("cannot read farm file {}", path);
  } catch (const YAML::ParserException& e) {
    return InvalidArgument("{}:{}:{}: {}", path, e.mark.line + 1, e.mark.column + 1, e.msg);
  }
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  auto rel = [&](const std::string& f) { return std::filesystem::path(f).is_absolute() ? f : (dir / f).string(); };
  auto credentials = [&](const YAML::Node& n, AgentEndpoint* ep) -> Status {
    for (auto it = n.begin(); it != n.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      if (key == "address") continue;
      if (key == "auth_token_file") {
        TLM_ASSIGN_OR_RETURN(ep->auth_token, ReadSecretFile(rel(it->second.as<std::string>()), At(path, it->second)));
      } else if (key == "tls") {
        if (!it->second.IsMap())
          return InvalidArgument("{}: tls: expected a map of ca, cert, key", At(path, it->second));
        for (auto t = it->second.begin(); t != it->second.end(); ++t) {
          const std::string k = t->first.as<std::string>();
          std::string* out = k == "ca"     ? &ep->tls_ca_pem
                             : k == "cert" ? &ep->tls_cert_pem
                             : k == "key"  ? &ep->tls_key_pem
                                           : nullptr;
          if (!out) return InvalidArgument("{}: tls.{}: unknown key (known: ca, cert, key)", At(path, t->first), k);
          TLM_ASSIGN_OR_RETURN(*out, ReadSecretFile(rel(t->second.as<std::string>()), At(path, t->second)));
        }
      } else {
        return InvalidArgument("{}: unknown key '{}' (known: address, auth_token_file, tls)", At(path, it->first), key);
      }
    }
    return Status::Ok();
  };
  if (!root.IsMap()) return InvalidArgument("{}: expected a map with 'agents:'", path);
  AgentEndpoint defaults;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.as<std::string>();
    if (key != "agents" && key != "defaults")
      return InvalidArgument("{}: unknown key '{}' (known: agents, defaults)", At(path, it->first), key);
  }
  if (root["defaults"]) TLM_RETURN_IF_ERROR(credentials(root["defaults"], &defaults));
  const YAML::Node agents = root["agents"];
  if (!agents || !agents.IsSequence() || agents.size() == 0)
    return InvalidArgument("{}: 'agents:' must be a non-empty list", path);
  std::vector<AgentEndpoint> out;
  for (const YAML::Node& a : agents) {
    if (!a.IsMap() || !a["address"]) return InvalidArgument("{}: each agent needs 'address: host:port'", At(path, a));
    AgentEndpoint ep = defaults;
    TLM_RETURN_IF_ERROR(credentials(a, &ep));
    auto parsed = ParseAgentList(a["address"].as<std::string>(), ep);
    if (!parsed.ok()) return parsed.status().WithContext(At(path, a["address"]));
    out.push_back(parsed->front());
  }
  return out;
}

}  // namespace tlm
