/* Greedy decoding with the rrwkv_rt C API: load a model, feed a prompt, then N times pick the
 * most likely next token and feed it back.
 *
 *   greedy [-t THREADS] [-l] MODEL N TEXT...        prompt tokenized by the model's tokenizer
 *   greedy [-t THREADS] [-l] MODEL N --ids ID...    prompt given as token ids
 *
 * Prints one line "token ID" per generated token (with -l, preceded by a line "logits V0 V1 ..."
 * holding the logits it was picked from, round-trip exact), then "text ..." if the model has a
 * tokenizer. Errors go to stderr with exit status 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rrwkv_rt/rrwkv.h>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    rrwkv_status st_ = (call);                                                             \
    if (st_ != RRWKV_OK) {                                                                 \
      fprintf(stderr, "greedy: %s: %s\n", rrwkv_status_name(st_), rrwkv_last_error()); \
      goto done;                                                                           \
    }                                                                                      \
  } while (0)

static int usage(void) {
  fprintf(stderr, "usage: greedy [-t THREADS] [-l] MODEL N (TEXT... | --ids ID...)\n");
  return 2;
}

static int32_t argmax(const float* v, int64_t n) {
  int64_t best = 0, i;
  for (i = 1; i < n; ++i)
    if (v[i] > v[best]) best = i;
  return (int32_t)best;
}

static void print_logits(const float* v, int64_t n) {
  int64_t i;
  printf("logits");
  for (i = 0; i < n; ++i) printf(" %.9g", v[i]);
  printf("\n");
}

int main(int argc, char** argv) {
  rrwkv_session_params sp = rrwkv_session_default_params();
  rrwkv_model* model = NULL;
  rrwkv_session* session = NULL;
  rrwkv_model_info info;
  int32_t* prompt = NULL;
  int32_t* generated = NULL;
  float* logits = NULL;
  char* text = NULL;
  size_t n_prompt = 0;
  rrwkv_status st;
  int print_all = 0, ret = 1, a = 1, i;
  long n_gen;

  for (; a < argc && argv[a][0] == '-'; ++a) {
    if (strcmp(argv[a], "-t") == 0 && a + 1 < argc) sp.n_threads = atoi(argv[++a]);
    else if (strcmp(argv[a], "-l") == 0) print_all = 1;
    else return usage();
  }
  if (argc - a < 3) return usage();
  n_gen = strtol(argv[a + 1], NULL, 10);
  if (n_gen < 0) return usage();

  CHECK(rrwkv_model_load(argv[a], NULL, &model));
  CHECK(rrwkv_model_get_info(model, &info));
  fprintf(stderr, "%s: %s, %lld layers, n_embd %lld, vocab %lld, %s, tokenizer %s (rrwkv_rt %s)\n", argv[a],
          info.arch, (long long)info.n_layer, (long long)info.n_embd, (long long)info.vocab_size, info.dtype,
          info.tokenizer ? info.tokenizer : "none", rrwkv_version());

  a += 2;
  if (strcmp(argv[a], "--ids") == 0) {
    n_prompt = (size_t)(argc - a - 1);
    if (n_prompt == 0) {
      usage();
      goto done;
    }
    prompt = malloc(n_prompt * sizeof *prompt);
    if (!prompt) goto done;
    for (i = 0; i < (int)n_prompt; ++i) prompt[i] = (int32_t)strtol(argv[a + 1 + i], NULL, 10);
  } else { /* the words of TEXT joined by spaces, then tokenized */
    size_t len = 1;
    for (i = a; i < argc; ++i) len += strlen(argv[i]) + 1;
    text = calloc(len, 1);
    if (!text) goto done;
    for (i = a; i < argc; ++i) {
      if (i > a) strcat(text, " ");
      strcat(text, argv[i]);
    }
    /* The two-call pattern of this API: ask for the size, allocate, fill. */
    st = rrwkv_tokenize(model, text, strlen(text), NULL, 0, &n_prompt);
    if (st != RRWKV_ERR_BUFFER_TOO_SMALL) CHECK(st);
    prompt = malloc((n_prompt ? n_prompt : 1) * sizeof *prompt);
    if (!prompt) goto done;
    CHECK(rrwkv_tokenize(model, text, strlen(text), prompt, n_prompt, &n_prompt));
  }

  logits = malloc((size_t)info.vocab_size * sizeof *logits);
  generated = malloc(((size_t)n_gen + 1) * sizeof *generated);
  if (!logits || !generated) goto done;

  CHECK(rrwkv_session_new(model, &sp, &session));
  CHECK(rrwkv_session_eval(session, prompt, n_prompt, logits, (size_t)info.vocab_size));
  for (i = 0; i < n_gen; ++i) {
    generated[i] = argmax(logits, info.vocab_size);
    if (print_all) print_logits(logits, info.vocab_size);
    printf("token %d\n", (int)generated[i]);
    if (i + 1 < n_gen) CHECK(rrwkv_session_step(session, generated[i], logits, (size_t)info.vocab_size));
  }
  if (info.tokenizer && n_gen > 0) {
    size_t n_bytes = 0;
    st = rrwkv_detokenize(model, generated, (size_t)n_gen, NULL, 0, &n_bytes);
    if (st != RRWKV_ERR_BUFFER_TOO_SMALL) CHECK(st);
    free(text);
    text = malloc(n_bytes + 1);
    if (!text) goto done;
    CHECK(rrwkv_detokenize(model, generated, (size_t)n_gen, text, n_bytes + 1, &n_bytes));
    printf("text %s\n", text);
  }
  ret = 0;

done:
  rrwkv_session_free(session);
  rrwkv_model_free(model);
  free(prompt);
  free(generated);
  free(logits);
  free(text);
  return ret;
}
