// What makes a well-formed .rrwkv file (format/, which checks the bytes) a model this build runs:
// its header's `arch` names a registered architecture, the config fields that architecture
// declares are present, of their types and within their limits, the fields agree with each
// other, and every tensor of the architecture's layout is there with its shape and dtype.
#pragma once

#include <string>
#include <vector>

#include "arch/architecture.h"
#include "format/config.h"

namespace rrwkv {

class ModelFile;

struct CheckedModel {
  const Architecture* arch = nullptr;
  ModelConfig config;
};

// The config and architecture of `file`, every check above passed; FormatError naming the first
// bad config field, or every layout problem at once.
CheckedModel check_model(const ModelFile& file);

// Every header field a file of `arch` stores besides `arch`: the common ones, then its own.
std::vector<ConfigField> config_fields_of(const Architecture& arch);
// The checks across fields (layer_norm_eps, then the architecture's), as "" or one sentence.
std::string config_problem(const Architecture& arch, const ModelConfig& c);

}  // namespace rrwkv
