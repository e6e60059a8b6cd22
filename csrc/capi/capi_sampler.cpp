// The C API's samplers (rrwkv_sampler_*). Conventions: rrwkv_capi.cpp.
#include "capi/handles.h"

#include "sampling/model_defaults.h"

using namespace rrwkv::capi;

extern "C" {

// ---- sampling -------------------------------------------------------------------------------

rrwkv_sampler_params rrwkv_sampler_default_params(void) {
  const rrwkv::SamplerParams d;
  rrwkv_sampler_params p;
  p.temperature = d.temperature;
  p.top_p = d.top_p;
  p.top_k = static_cast<int32_t>(d.top_k);
  p.min_p = d.min_p;
  p.presence_penalty = d.alpha_presence;
  p.frequency_penalty = d.alpha_frequency;
  p.penalty_decay = d.alpha_decay;
  p.repetition_penalty = d.repetition_penalty;
  p.banned_tokens = nullptr;
  p.n_banned = 0;
  p.stop_tokens = nullptr;
  p.n_stop = 0;
  p.has_seed = false;
  p.seed = 0;
  return p;
}

rrwkv_status rrwkv_sampler_new(const rrwkv_model* model, const rrwkv_sampler_params* params, rrwkv_sampler** out) {
  clear_out(out);
  return guard(__func__, [&] {
    require(model, "model");
    require(out, "out");
    const rrwkv_sampler_params c = params ? *params : rrwkv_sampler_default_params();
    if (c.n_banned > 0) require(c.banned_tokens, "params->banned_tokens");
    if (c.n_stop > 0) require(c.stop_tokens, "params->stop_tokens");
    const auto V = static_cast<size_t>(model->model->vocab_size());
    rrwkv::SamplerParams p;
    p.temperature = c.temperature;
    p.top_p = c.top_p;
    p.top_k = c.top_k;
    p.min_p = c.min_p;
    p.alpha_presence = c.presence_penalty;
    p.alpha_frequency = c.frequency_penalty;
    p.alpha_decay = c.penalty_decay;
    p.repetition_penalty = c.repetition_penalty;
    p.banned_tokens.assign(c.banned_tokens, c.banned_tokens + c.n_banned);
    p.stop_tokens.assign(c.stop_tokens, c.stop_tokens + c.n_stop);
    rrwkv::add_model_defaults(p, model->tokenizer.get(), V, /*use_default_stop=*/c.stop_tokens == nullptr);
    if (c.has_seed) p.seed = c.seed;
    *out = new rrwkv_sampler{rrwkv::Sampler(V, std::move(p))};
  });
}

void rrwkv_sampler_free(rrwkv_sampler* sampler) { delete sampler; }

rrwkv_status rrwkv_sampler_sample(rrwkv_sampler* sampler, const float* logits, size_t n_logits, int32_t* token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    require(logits, "logits");
    require(token, "token");
    *token = static_cast<int32_t>(sampler->sampler.sample(logits, n_logits));
  });
}

rrwkv_status rrwkv_sampler_sample_masked(rrwkv_sampler* sampler, const float* logits, size_t n_logits,
                                         const uint32_t* allowed, size_t n_words, int32_t* token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    require(logits, "logits");
    require(token, "token");
    if (allowed && n_words != rrwkv::mask_words(n_logits))
      throw rrwkv::InvalidArgument("n_words is " + std::to_string(n_words) + "; a mask of " + std::to_string(n_logits) +
                                   " tokens has (n_logits + 31) / 32 = " +
                                   std::to_string(rrwkv::mask_words(n_logits)) + " words");
    *token = static_cast<int32_t>(sampler->sampler.sample(logits, n_logits, allowed));
  });
}

rrwkv_status rrwkv_sampler_set_logit_bias(rrwkv_sampler* sampler, const int32_t* tokens, const float* bias, size_t n) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    if (n > 0) {
      require(tokens, "tokens");
      require(bias, "bias");
    }
    std::vector<rrwkv::TokenBias> b(n);
    for (size_t i = 0; i < n; ++i) b[i] = {tokens[i], bias[i]};
    sampler->sampler.set_logit_bias(std::move(b));
  });
}

rrwkv_status rrwkv_sampler_accept(rrwkv_sampler* sampler, int32_t token) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    sampler->sampler.accept(token);
  });
}

bool rrwkv_sampler_is_stop(const rrwkv_sampler* sampler, int32_t token) {
  return sampler != nullptr && sampler->sampler.is_stop(token);
}

rrwkv_status rrwkv_sampler_reset(rrwkv_sampler* sampler) {
  return guard(__func__, [&] {
    require(sampler, "sampler");
    sampler->sampler.reset();
  });
}

}  // extern "C"
