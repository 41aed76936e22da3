// Reading and writing the fake engine format (see fake_engine.hpp).
#include "fake_engine.hpp"

#include <sstream>

namespace fake {

bool parse_engine(const std::string& blob, Engine& engine, std::string& why) {
  std::istringstream lines(blob);
  std::string line, word;
  if (!std::getline(lines, line) || line != "MGDN-FAKE-ENGINE") {
    why = "not a serialized engine (bad magic)";
    return false;
  }
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    if (!(in >> word)) continue;  // a blank line
    if (word == "end") return true;
    Tensor t;
    if (word == "plugin") {
      in >> engine.plugin;
    } else if (word == "input") {
      in >> t.name >> t.channels >> t.scale;
      for (int k = 0; k < 3; ++k) in >> t.lo[k];
      for (int k = 0; k < 3; ++k) in >> t.opt[k];
      for (int k = 0; k < 3; ++k) in >> t.hi[k];
      engine.io.push_back(t);
    } else if (word == "output") {
      t.input = false;
      in >> t.name >> t.channels >> t.scale;
      engine.io.push_back(t);
    } else if (word == "fail") {
      in >> word;
      engine.fail_enqueue = word == "enqueue";
    } else if (word == "type") {
      std::string name, type;
      in >> name >> type;
      for (auto& x : engine.io)
        if (x.name == name) x.half = type == "half";
    }
    if (in.fail()) {
      why = "malformed record '" + line + "'";
      return false;
    }
  }
  why = "the engine blob is truncated (no end record)";
  return false;
}

std::string write_engine(const Engine& engine) {
  std::ostringstream out;
  out << "MGDN-FAKE-ENGINE\n";
  if (!engine.plugin.empty()) out << "plugin " << engine.plugin << "\n";
  for (const auto& t : engine.io) {
    out << (t.input ? "input " : "output ") << t.name << " " << t.channels << " " << t.scale;
    if (t.input)
      for (const int64_t* v : {t.lo, t.opt, t.hi})
        out << "  " << v[0] << " " << v[1] << " " << v[2];
    out << "\n";
  }
  out << "end\n";
  return out.str();
}

}  // namespace fake
