/* The engine's core: opens a model (reads the flatbuffer, validates every index, refuses what it lacks by name),
 * prepares every op, plans the arena (plan.c), invokes, resets. See nn/README.md for the arena's layout. */
#include <string.h>

#include "core_private.h"

/* ---- the ops the engine has, by builtin code ---- */

static const gbnn_op *const registry[] = {
    &gbnn_op_conv_2d,       &gbnn_op_depthwise_conv_2d, &gbnn_op_fully_connected, &gbnn_op_add,
    &gbnn_op_mean,          &gbnn_op_softmax,           &gbnn_op_logistic,        &gbnn_op_max_pool_2d,
    &gbnn_op_quantize,      &gbnn_op_concatenation,     &gbnn_op_strided_slice,   &gbnn_op_split_v,
    &gbnn_op_reshape,       &gbnn_op_var_handle,        &gbnn_op_read_variable,   &gbnn_op_assign_variable,
    &gbnn_op_call_once,
};

static const gbnn_op *find_op(int32_t code) {
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
    if (registry[i]->code == code) return registry[i];
  }
  return NULL;
}

#define BUILTIN_CUSTOM 32
#define BUILTIN_VAR_HANDLE 142
#define SCHEMA_VERSION 3

/* ---- messages (no stdio: %s, %d, %u only) ---- */

static void put_char(char *dst, size_t *at, char ch) {
  if (*at + 1 < GBNN_MESSAGE_MAX) dst[(*at)++] = ch;
  dst[*at] = '\0';
}

static void put_str(char *dst, size_t *at, const char *s) {
  if (s == NULL) s = "(null)";
  while (*s) put_char(dst, at, *s++);
}

static void put_u64(char *dst, size_t *at, uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + (int)(v % 10u));
    v /= 10u;
  } while (v != 0 && n < 24);
  while (n > 0) put_char(dst, at, digits[--n]);
}

static void put_format(char *dst, size_t *at, const char *fmt, va_list ap) {
  for (const char *p = fmt; *p; p++) {
    if (*p != '%' || p[1] == '\0') {
      put_char(dst, at, *p);
      continue;
    }
    p++;
    if (*p == 's') {
      put_str(dst, at, va_arg(ap, const char *));
    } else if (*p == 'd') {
      int v = va_arg(ap, int);
      if (v < 0) {
        put_char(dst, at, '-');
        put_u64(dst, at, (uint64_t)(-(int64_t)v));
      } else {
        put_u64(dst, at, (uint64_t)v);
      }
    } else if (*p == 'u') {
      put_u64(dst, at, (uint64_t)va_arg(ap, unsigned));
    } else {
      put_char(dst, at, *p);
    }
  }
}

/* The first failure is the one reported, except that a refusal replaces a lack of arena (the caller would otherwise
 * learn of it only after enlarging the arena). `name` (may be NULL) and node >= 0 start the message. */
static void record(gbnn_ctx *c, gbnn_status st, const char *name, int32_t node, const char *fmt, va_list ap) {
  if (c->status != GBNN_OK && !(c->status == GBNN_ARENA_TOO_SMALL && st != GBNN_ARENA_TOO_SMALL)) return;
  c->status = st;
  if (c->err == NULL) return;
  gbnn_error *e = c->err;
  e->status = st;
  e->subgraph = node >= 0 ? c->sg_index : -1;
  e->node = node;
  size_t at = 0;
  e->message[0] = '\0';
  if (node >= 0) { /* "CONV_2D (node 3): ", or "node 3: " before the op is known */
    if (name != NULL) {
      put_str(e->message, &at, name);
      put_str(e->message, &at, " (");
    }
    put_str(e->message, &at, "node ");
    put_u64(e->message, &at, (uint64_t)node);
    if (c->sg_index != 0) {
      put_str(e->message, &at, " of subgraph ");
      put_u64(e->message, &at, (uint64_t)c->sg_index);
    }
    put_str(e->message, &at, name != NULL ? "): " : ": ");
  }
  put_format(e->message, &at, fmt, ap);
}

gbnn_status gbnn_refuse(gbnn_ctx *c, const gbnn_node *n, gbnn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(c, st, n ? (n->op ? n->op->name : NULL) : NULL, n ? n->index : -1, fmt, ap);
  va_end(ap);
  return st;
}

gbnn_status gbnn_fail(gbnn_ctx *c, gbnn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(c, st, NULL, -1, fmt, ap);
  va_end(ap);
  return st;
}

/* An error about node `node` of the current subgraph before it has an op. */
static gbnn_status fail_node(gbnn_ctx *c, int32_t node, gbnn_status st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(c, st, NULL, node, fmt, ap);
  va_end(ap);
  return st;
}

gbnn_status gbnn_status_of(const gbnn_ctx *c) { return c->status; }

/* ---- memory ---- */

static size_t align_up(size_t v, size_t a) { return (v + (a - 1)) & ~(a - 1); }

#define SIZE_LIMIT ((size_t)0x7fffffff)

void *gbnn_head_alloc(gbnn_interpreter *it, size_t bytes, size_t align) {
  size_t start = align_up(it->needed_head, align);
  if (bytes > SIZE_LIMIT || start > SIZE_LIMIT) {
    it->needed_head = SIZE_LIMIT;
    it->overflow = 1;
    return NULL;
  }
  it->needed_head = start + bytes;
  if (it->overflow || it->needed_head > it->arena_len) {
    it->overflow = 1; /* from now on only counting */
    return NULL;
  }
  it->head = it->needed_head;
  void *p = it->arena + start;
  memset(p, 0, bytes);
  return p;
}

void *gbnn_persistent(gbnn_ctx *c, size_t bytes) {
  if (!c->preparing) return NULL;
  void *p = gbnn_head_alloc(c->it, bytes == 0 ? 1 : bytes, 8);
  if (p != NULL && c->node != NULL && c->node->data == NULL) c->node->data = p;
  if (p == NULL && c->status == GBNN_OK) {
    /* Recorded without a message yet: gbnn_open writes the sizes once it knows them. */
    c->status = GBNN_ARENA_TOO_SMALL;
  }
  return p;
}

size_t gbnn_type_size(int32_t type) {
  switch (type) {
    case GBNN_FLOAT32:
    case GBNN_INT32:
      return 4;
    case GBNN_UINT8:
    case GBNN_BOOL:
    case GBNN_INT8:
      return 1;
    case GBNN_INT16:
      return 2;
    case GBNN_INT64:
      return 8;
    default:
      return 0;
  }
}

int32_t gbnn_elements(const gbnn_tensor *t) {
  int32_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->dims[i];
  return n;
}

/* ---- reading the model ---- */

typedef struct {
  const uint8_t *buf;
  size_t len;
  uint32_t codes_pos, n_codes;
  uint32_t subgraphs_pos, n_subgraphs;
  uint32_t buffers_pos, n_buffers;
} model_view;

/* A vector of int32 used in place: inside the model and 4-byte aligned in memory. False when broken. */
static bool int_vector(const gbnn_table *t, int field, const int32_t **out, uint32_t *n) {
  uint32_t pos;
  *out = NULL;
  if (!gbnn_fb_vector(t, field, 4, &pos, n)) return false;
  if (pos == 0) return true;
  if (((uintptr_t)(t->buf + pos)) % 4u != 0) return false;
  *out = (const int32_t *)(const void *)(t->buf + pos);
  return true;
}

/* A string field copied for a message: NUL-terminated, printable, shortened. */
static const char *message_string(const gbnn_table *t, int field, char *dst, size_t cap) {
  uint32_t n = 0;
  const char *s = gbnn_table_string(t, field, &n);
  size_t k = 0;
  if (s != NULL) {
    for (; k < n && k + 1 < cap && s[k] != '\0'; k++) dst[k] = (s[k] >= 32 && s[k] < 127) ? s[k] : '?';
  }
  dst[k] = '\0';
  return dst;
}

static bool type_supported(int32_t type) { return gbnn_type_size(type) != 0 || type == GBNN_RESOURCE; }

static gbnn_status read_tensor(gbnn_ctx *c, const model_view *mv, int32_t index, const gbnn_table *tt,
                               gbnn_tensor *t) {
  const int32_t sg = c->sg_index;
  char name[48];
  memset(t, 0, sizeof *t);

  const int32_t *shape;
  uint32_t rank;
  if (!int_vector(tt, 0, &shape, &rank)) {
    return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: bad shape", sg, index);
  }
  if (rank > GBNN_MAX_RANK) {
    return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d (%s) has rank %u, more than gbnn's %d", sg, index,
                     message_string(tt, 3, name, sizeof name), rank, GBNN_MAX_RANK);
  }
  t->rank = (uint8_t)rank;
  uint64_t elements = 1;
  for (uint32_t i = 0; i < rank; i++) {
    if (shape[i] < 0) return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: negative dimension", sg, index);
    t->dims[i] = shape[i];
    elements *= (uint64_t)shape[i];
    if (elements > SIZE_LIMIT) return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d is too large", sg, index);
  }

  int32_t type = gbnn_table_i8(tt, 1, 0);
  if (!type_supported(type)) {
    return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d (%s) has type %s, which gbnn does not hold", sg, index,
                     message_string(tt, 3, name, sizeof name), gbnn_type_name(type));
  }
  t->type = (uint8_t)type;
  size_t elem = gbnn_type_size(type);
  t->bytes = (size_t)elements * elem;
  if (t->bytes > SIZE_LIMIT) return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d is too large", sg, index);
  t->is_variable = gbnn_table_i8(tt, 5, 0) != 0;

  bool bad = false;
  if (gbnn_fb_indirect(tt, 6, &bad) != 0 || bad) {
    return gbnn_fail(c, bad ? GBNN_BAD_MODEL : GBNN_UNSUPPORTED, "subgraph %d tensor %d (%s) is sparse", sg, index,
                     message_string(tt, 3, name, sizeof name));
  }

  /* Data: the buffer's bytes in the flatbuffer, or (the newer form) at an offset from the model's start. */
  uint32_t buffer = (uint32_t)gbnn_table_i32(tt, 2, 0);
  if (buffer >= mv->n_buffers) {
    return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: buffer %u of %u", sg, index, buffer, mv->n_buffers);
  }
  gbnn_table bt;
  if (!gbnn_fb_vector_table(mv->buf, mv->len, mv->buffers_pos, buffer, &bt)) {
    return gbnn_fail(c, GBNN_BAD_MODEL, "buffer %u: bad table", buffer);
  }
  uint32_t data_pos, data_len;
  if (!gbnn_fb_vector(&bt, 0, 1, &data_pos, &data_len)) {
    return gbnn_fail(c, GBNN_BAD_MODEL, "buffer %u: bad data", buffer);
  }
  const uint8_t *data = NULL;
  uint64_t size = 0;
  if (data_len > 0) {
    data = mv->buf + data_pos;
    size = data_len;
  } else {
    bool broken = false;
    uint64_t off = gbnn_fb_u64_field(&bt, 1, 0, &broken);
    uint64_t sz = gbnn_fb_u64_field(&bt, 2, 0, &broken);
    if (broken) return gbnn_fail(c, GBNN_BAD_MODEL, "buffer %u: bad offset or size", buffer);
    if (off > 1) { /* 0 and 1 mean "none" in the schema */
      if (off > mv->len || sz > mv->len - off) {
        return gbnn_fail(c, GBNN_BAD_MODEL, "buffer %u lies outside the model's %u bytes", buffer, (unsigned)mv->len);
      }
      data = mv->buf + off;
      size = sz;
    }
  }
  if (data != NULL && size > 0) {
    if (type == GBNN_RESOURCE || size != t->bytes) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: buffer %u holds %u bytes, its shape %u", sg, index,
                       buffer, (unsigned)size, (unsigned)t->bytes);
    }
    if ((uintptr_t)data % elem != 0) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: buffer %u is misaligned", sg, index, buffer);
    }
    t->data = (void *)(uintptr_t)data; /* constants are never written (is_constant) */
    t->is_constant = 1;
  }
  if (t->is_constant && t->is_variable) {
    return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d: a variable with initial data", sg, index);
  }

  /* Quantisation. */
  uint32_t qpos = gbnn_fb_indirect(tt, 4, &bad);
  if (bad) return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: bad quantization", sg, index);
  if (qpos != 0) {
    gbnn_table qt;
    if (!gbnn_fb_table(mv->buf, mv->len, qpos, &qt)) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: bad quantization", sg, index);
    }
    uint32_t spos, ns, zpos, nz;
    if (!gbnn_fb_vector(&qt, 2, 4, &spos, &ns) || !gbnn_fb_vector(&qt, 3, 8, &zpos, &nz) ||
        (ns > 0 && ((uintptr_t)(mv->buf + spos)) % 4u != 0)) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: bad quantization", sg, index);
    }
    if (gbnn_fb_indirect(&qt, 5, &bad) != 0 || bad) {
      return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d: custom quantization details", sg, index);
    }
    if (ns > 0) {
      if (nz != ns) {
        return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: %u scales but %u zero points", sg, index, ns, nz);
      }
      int32_t qdim = gbnn_table_i32(&qt, 6, 0);
      if (ns > 1 && (qdim < 0 || qdim >= (int32_t)rank || (uint32_t)t->dims[qdim] != ns)) {
        return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: %u scales along dimension %d", sg, index, ns, qdim);
      }
      int64_t zp0 = gbnn_fb_i64(mv->buf + zpos);
      for (uint32_t i = 0; i < nz; i++) {
        int64_t zp = gbnn_fb_i64(mv->buf + zpos + 8u * i);
        if (zp < INT32_MIN || zp > INT32_MAX) {
          return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d: zero point out of range", sg, index);
        }
        if (zp != zp0) {
          return gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d: per-channel zero points that differ", sg,
                           index);
        }
      }
      t->scales = (const float *)(const void *)(mv->buf + spos);
      t->n_scales = (int32_t)ns;
      t->scale = t->scales[0];
      t->zero_point = (int32_t)zp0;
      t->quantized_dimension = qdim;
    }
  }
  return GBNN_OK;
}

/* The builtin code of operator code `index`; *custom set for a custom op (its name into `name`). */
static int32_t builtin_code(const model_view *mv, uint32_t index, bool *ok, bool *custom, char *name, size_t cap) {
  gbnn_table ct;
  *custom = false;
  name[0] = '\0';
  if (index >= mv->n_codes || !gbnn_fb_vector_table(mv->buf, mv->len, mv->codes_pos, index, &ct)) {
    *ok = false;
    return -1;
  }
  int32_t deprecated = gbnn_table_i8(&ct, 0, 0);
  int32_t code = gbnn_table_i32(&ct, 3, 0);
  if (deprecated > code) code = deprecated;
  bool bad = false;
  if (gbnn_fb_indirect(&ct, 1, &bad) != 0 || code == BUILTIN_CUSTOM) {
    *custom = true;
    message_string(&ct, 1, name, cap);
  }
  *ok = !bad;
  return code;
}

static gbnn_status read_node(gbnn_ctx *c, const model_view *mv, int32_t index, const gbnn_table *ot,
                             const gbnn_subgraph *sg, gbnn_node *n, bool *var_handle) {
  char name[40];
  bool ok = true, custom = false;
  memset(n, 0, sizeof *n);
  n->index = index;
  uint32_t opcode = (uint32_t)gbnn_table_i32(ot, 0, 0);
  int32_t code = builtin_code(mv, opcode, &ok, &custom, name, sizeof name);
  if (!ok) return fail_node(c, index, GBNN_BAD_MODEL, "bad operator code %u", opcode);
  if (custom) {
    return fail_node(c, index, GBNN_UNSUPPORTED, "model uses the custom op '%s', which gbnn does not implement", name);
  }
  const gbnn_op *op = find_op(code);
  if (op == NULL) {
    return fail_node(c, index, GBNN_UNSUPPORTED, "model uses %s (builtin %d), which gbnn does not implement",
                     gbnn_builtin_name(code), code);
  }
  n->op = op;
  *var_handle = code == BUILTIN_VAR_HANDLE;

  uint32_t ni, no;
  if (!int_vector(ot, 1, &n->inputs, &ni) || !int_vector(ot, 2, &n->outputs, &no) || ni > INT32_MAX ||
      no > INT32_MAX) {
    return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad inputs or outputs");
  }
  n->n_inputs = (int32_t)ni;
  n->n_outputs = (int32_t)no;
  for (uint32_t i = 0; i < ni; i++) {
    if (n->inputs[i] < -1 || n->inputs[i] >= sg->n_tensors) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "input %u is tensor %d of %d", i, n->inputs[i], sg->n_tensors);
    }
  }
  for (uint32_t i = 0; i < no; i++) {
    if (n->outputs[i] < 0 || n->outputs[i] >= sg->n_tensors) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output %u is tensor %d of %d", i, n->outputs[i], sg->n_tensors);
    }
  }

  /* Options: the table must be of the op's options type (absent: every field its default). */
  uint32_t tpos = gbnn_fb_field(ot, 3, 1, NULL);
  int32_t options_type = tpos ? (int32_t)mv->buf[tpos] : 0;
  bool bad = false;
  uint32_t opos = gbnn_fb_indirect(ot, 4, &bad);
  if (bad) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad builtin options");
  n->options.buf = mv->buf;
  n->options.len = mv->len;
  n->options.pos = 0;
  if (op->options_type != 0 && options_type != 0) {
    if (options_type != op->options_type) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "options of type %d, not %d", options_type, op->options_type);
    }
    if (opos != 0 && !gbnn_fb_table(mv->buf, mv->len, opos, &n->options)) {
      return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad builtin options");
    }
  }
  uint32_t n_intermediates, ipos;
  if (!gbnn_fb_vector(ot, 8, 4, &ipos, &n_intermediates)) return gbnn_refuse(c, n, GBNN_BAD_MODEL, "bad intermediates");
  if (n_intermediates > 0) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "intermediate tensors");
  if (gbnn_fb_indirect(ot, 12, &bad) != 0 || bad) return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "builtin_options_2");
  return GBNN_OK;
}

static gbnn_status read_subgraph(gbnn_ctx *c, const model_view *mv, const gbnn_table *st, gbnn_subgraph *sg,
                                 int32_t *var_handles) {
  uint32_t tpos, nt, opos, nops, ni, no;
  if (!gbnn_fb_vector(st, 0, 4, &tpos, &nt) || !gbnn_fb_vector(st, 3, 4, &opos, &nops) ||
      !int_vector(st, 1, &sg->inputs, &ni) || !int_vector(st, 2, &sg->outputs, &no) || nt > INT32_MAX / 2 ||
      nops > INT32_MAX / 2) {
    return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d: bad tensors, operators, inputs or outputs", c->sg_index);
  }
  sg->n_tensors = (int32_t)nt;
  sg->n_nodes = (int32_t)nops;
  sg->n_inputs = (int32_t)ni;
  sg->n_outputs = (int32_t)no;
  sg->caller = -1;
  sg->caller_node = -1;
  for (uint32_t i = 0; i < ni + no; i++) {
    int32_t t = i < ni ? sg->inputs[i] : sg->outputs[i - ni];
    if (t < 0 || t >= sg->n_tensors) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d: input or output %d is not a tensor", c->sg_index, t);
    }
  }
  /* When the arena cannot hold the arrays, the model is still read through (into a scratch tensor and node) to
   * count what it needs. */
  sg->tensors = gbnn_head_alloc(c->it, sizeof(gbnn_tensor) * nt, 16);
  sg->nodes = gbnn_head_alloc(c->it, sizeof(gbnn_node) * nops, 16);
  for (uint32_t i = 0; i < nt; i++) {
    gbnn_table tt;
    gbnn_tensor scratch;
    if (!gbnn_fb_vector_table(mv->buf, mv->len, tpos, i, &tt)) {
      return gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %u: bad table", c->sg_index, i);
    }
    gbnn_status s = read_tensor(c, mv, (int32_t)i, &tt, sg->tensors ? &sg->tensors[i] : &scratch);
    if (s != GBNN_OK) return s;
  }
  for (uint32_t i = 0; i < nops; i++) {
    gbnn_table ot;
    gbnn_node scratch;
    bool vh = false;
    if (!gbnn_fb_vector_table(mv->buf, mv->len, opos, i, &ot)) {
      return fail_node(c, (int32_t)i, GBNN_BAD_MODEL, "bad operator table");
    }
    gbnn_node *n = sg->nodes ? &sg->nodes[i] : &scratch;
    gbnn_status s = read_node(c, mv, (int32_t)i, &ot, sg, n, &vh);
    if (s != GBNN_OK) return s;
    if (vh) (*var_handles)++;
    if (sg->tensors != NULL) {
      for (int32_t k = 0; k < n->n_outputs; k++) {
        if (sg->tensors[n->outputs[k]].is_constant) {
          return gbnn_refuse(c, n, GBNN_BAD_MODEL, "output %d is the constant tensor %d", k, n->outputs[k]);
        }
      }
    }
  }
  return GBNN_OK;
}

/* Variables (the schema's is_variable): their own space at the head, holding the zero point until written. */
static void reset_variable(gbnn_tensor *t) {
  int32_t fill = (t->type == GBNN_INT8 || t->type == GBNN_UINT8) ? t->zero_point : 0;
  memset(t->data, fill & 0xff, t->bytes);
}

static gbnn_status too_small(gbnn_ctx *c, size_t needed, bool exact) {
  if (c->err) c->err->arena_needed = needed;
  c->status = GBNN_OK; /* replaces the message-less record of gbnn_persistent */
  return gbnn_fail(c, GBNN_ARENA_TOO_SMALL, exact ? "arena of %u bytes is too small: the model needs %u"
                                                  : "arena of %u bytes is too small: the model needs at least %u",
                   (unsigned)c->it->arena_len, (unsigned)needed);
}

gbnn_interpreter *gbnn_open(const void *model, size_t model_len, void *arena, size_t arena_len, uint32_t flags,
                            gbnn_error *err) {
  gbnn_interpreter local;
  memset(&local, 0, sizeof local);
  gbnn_ctx c;
  memset(&c, 0, sizeof c);
  c.it = &local;
  c.err = err;
  if (err != NULL) {
    memset(err, 0, sizeof *err);
    err->subgraph = -1;
    err->node = -1;
  }
  if (model == NULL || arena == NULL || ((uintptr_t)model % 16u) != 0 || ((uintptr_t)arena % 16u) != 0) {
    gbnn_fail(&c, GBNN_BAD_ARGUMENT, "model and arena must be non-NULL and 16-byte aligned");
    return NULL;
  }
  local.model = model;
  local.model_len = model_len;
  local.arena = arena;
  local.arena_len = arena_len > SIZE_LIMIT ? SIZE_LIMIT : arena_len;
  local.flags = flags;
  gbnn_interpreter *slot = gbnn_head_alloc(&local, sizeof(gbnn_interpreter), 16);

  /* The model: version 3, its operator codes, subgraphs, buffers. */
  model_view mv;
  memset(&mv, 0, sizeof mv);
  mv.buf = model;
  mv.len = model_len;
  gbnn_table mt;
  if (model_len < 8 || model_len > SIZE_LIMIT || !gbnn_fb_table(mv.buf, mv.len, gbnn_fb_u32(mv.buf), &mt)) {
    gbnn_fail(&c, GBNN_BAD_MODEL, "not a .tflite flatbuffer");
    return NULL;
  }
  int32_t version = gbnn_table_i32(&mt, 0, 0);
  if (version != SCHEMA_VERSION) {
    gbnn_fail(&c, GBNN_UNSUPPORTED, "schema version %d (gbnn reads version 3)", version);
    return NULL;
  }
  if (!gbnn_fb_vector(&mt, 1, 4, &mv.codes_pos, &mv.n_codes) ||
      !gbnn_fb_vector(&mt, 2, 4, &mv.subgraphs_pos, &mv.n_subgraphs) ||
      !gbnn_fb_vector(&mt, 4, 4, &mv.buffers_pos, &mv.n_buffers) || mv.n_subgraphs == 0 ||
      mv.n_subgraphs > 0xffff) {
    gbnn_fail(&c, GBNN_BAD_MODEL, "bad operator codes, subgraphs or buffers");
    return NULL;
  }

  local.n_subgraphs = (int32_t)mv.n_subgraphs;
  local.subgraphs = gbnn_head_alloc(&local, sizeof(gbnn_subgraph) * mv.n_subgraphs, 16);
  int32_t var_handles = 0;
  for (uint32_t s = 0; s < mv.n_subgraphs; s++) {
    gbnn_table st;
    gbnn_subgraph scratch;
    memset(&scratch, 0, sizeof scratch);
    gbnn_subgraph *sg = local.subgraphs ? &local.subgraphs[s] : &scratch;
    c.sg = sg;
    c.sg_index = (int32_t)s;
    if (!gbnn_fb_vector_table(mv.buf, mv.len, mv.subgraphs_pos, s, &st)) {
      gbnn_fail(&c, GBNN_BAD_MODEL, "subgraph %u: bad table", s);
      return NULL;
    }
    if (read_subgraph(&c, &mv, &st, sg, &var_handles) != GBNN_OK) return NULL;
  }
  local.max_resources = var_handles;
  local.resources = gbnn_head_alloc(&local, sizeof(gbnn_resource) * (size_t)var_handles, 16);
  if (local.overflow) {
    too_small(&c, align_up(local.needed_head, 16) + 16, false);
    return NULL;
  }
  for (int32_t s = 0; s < local.n_subgraphs; s++) {
    gbnn_subgraph *sg = &local.subgraphs[s];
    for (int32_t i = 0; i < sg->n_tensors; i++) {
      gbnn_tensor *t = &sg->tensors[i];
      if (!t->is_variable || t->type == GBNN_RESOURCE) continue;
      t->data = gbnn_head_alloc(&local, t->bytes, 16);
      if (t->data != NULL) reset_variable(t);
    }
  }

  /* Prepare every op, subgraph by subgraph, in order (as TFLM). A lack of arena is counted through to the end. */
  c.preparing = true;
  for (int32_t s = 0; s < local.n_subgraphs; s++) {
    c.sg = &local.subgraphs[s];
    c.sg_index = s;
    for (int32_t k = 0; k < c.sg->n_nodes; k++) {
      gbnn_node *n = &c.sg->nodes[k];
      c.node = n;
      gbnn_status st = n->op->prepare(&c, n);
      c.node = NULL;
      if (st != GBNN_OK && c.status == GBNN_OK) gbnn_refuse(&c, n, st, "prepare failed");
      if (c.status != GBNN_OK && c.status != GBNN_ARENA_TOO_SMALL) return NULL;
    }
  }
  c.preparing = false;
  c.sg = &local.subgraphs[0];
  c.sg_index = 0;
  if (c.status == GBNN_OK && !local.overflow && gbnn_state_check(&c) != GBNN_OK) return NULL;
  if (c.status != GBNN_OK || local.overflow) {
    /* What is known: the head so far and the planner's scratch (the activations are learnt on the next try). */
    size_t n = 0;
    for (int32_t s = 0; s < local.n_subgraphs; s++) n += (size_t)local.subgraphs[s].n_tensors;
    size_t scratch = n * (4 * sizeof(int32_t) + sizeof(size_t) + 1) + (size_t)local.n_subgraphs * 5 + 64;
    too_small(&c, align_up(local.needed_head, 16) + scratch, false);
    return NULL;
  }

  /* The activations, after the head. */
  if (gbnn_plan(&c) != GBNN_OK) {
    if (c.status == GBNN_ARENA_TOO_SMALL) too_small(&c, align_up(local.needed_head, 16) + 16, false);
    return NULL;
  }
  size_t needed = align_up(local.head, 16) + local.activations;
  if (needed > local.arena_len) {
    too_small(&c, needed, true);
    return NULL;
  }
  memcpy(slot, &local, sizeof local);
  return slot;
}

/* ---- running ---- */

static gbnn_status run(gbnn_ctx *c) {
  for (int32_t k = 0; k < c->sg->n_nodes; k++) {
    const gbnn_node *n = &c->sg->nodes[k];
    gbnn_status st = n->op->eval(c, n);
    if (st != GBNN_OK) {
      if (c->status == GBNN_OK) gbnn_refuse(c, n, st, "eval failed");
      return c->status;
    }
  }
  return GBNN_OK;
}

gbnn_status gbnn_run_subgraph(gbnn_ctx *c, int32_t index) {
  if (index <= 0 || index >= c->it->n_subgraphs) return gbnn_fail(c, GBNN_RUNTIME, "no subgraph %d", index);
  gbnn_ctx child = *c;
  child.sg = &c->it->subgraphs[index];
  child.sg_index = index;
  gbnn_status st = run(&child);
  if (st != GBNN_OK) c->status = st;
  return st;
}

gbnn_status gbnn_invoke(gbnn_interpreter *it, gbnn_error *err) {
  if (err != NULL) {
    memset(err, 0, sizeof *err);
    err->subgraph = -1;
    err->node = -1;
  }
  gbnn_ctx c;
  memset(&c, 0, sizeof c);
  c.it = it;
  c.err = err;
  if (it == NULL) return gbnn_fail(&c, GBNN_BAD_ARGUMENT, "no interpreter");
  c.sg = &it->subgraphs[0];
  return run(&c);
}

void gbnn_reset(gbnn_interpreter *it) {
  if (it == NULL) return;
  /* As TFLM's MicroInterpreter::Reset: variables back to their zero point, resource variables to the zero point of
   * the tensor that sized them; CALL_ONCE does not run again. */
  for (int32_t r = 0; r < it->n_resources; r++) {
    gbnn_resource *res = &it->resources[r];
    if (res->buffer != NULL) memset(res->buffer, res->default_value & 0xff, res->bytes);
  }
  for (int32_t s = 0; s < it->n_subgraphs; s++) {
    gbnn_subgraph *sg = &it->subgraphs[s];
    for (int32_t i = 0; i < sg->n_tensors; i++) {
      gbnn_tensor *t = &sg->tensors[i];
      if (t->is_variable && t->data != NULL) reset_variable(t);
    }
  }
}

/* ---- access ---- */

size_t gbnn_input_count(const gbnn_interpreter *it) { return it ? (size_t)it->subgraphs[0].n_inputs : 0; }
size_t gbnn_output_count(const gbnn_interpreter *it) { return it ? (size_t)it->subgraphs[0].n_outputs : 0; }

gbnn_tensor *gbnn_input(gbnn_interpreter *it, size_t i) {
  if (it == NULL || i >= (size_t)it->subgraphs[0].n_inputs) return NULL;
  return &it->subgraphs[0].tensors[it->subgraphs[0].inputs[i]];
}

gbnn_tensor *gbnn_output(gbnn_interpreter *it, size_t i) {
  if (it == NULL || i >= (size_t)it->subgraphs[0].n_outputs) return NULL;
  return &it->subgraphs[0].tensors[it->subgraphs[0].outputs[i]];
}

size_t gbnn_tensor_count(const gbnn_interpreter *it) { return it ? (size_t)it->subgraphs[0].n_tensors : 0; }

gbnn_tensor *gbnn_tensor_at(gbnn_interpreter *it, size_t index) {
  if (it == NULL || index >= (size_t)it->subgraphs[0].n_tensors) return NULL;
  return &it->subgraphs[0].tensors[index];
}

size_t gbnn_arena_used(const gbnn_interpreter *it) { return it ? align_up(it->head, 16) + it->activations : 0; }

gbnn_tensor *gbnn_node_input(gbnn_ctx *c, const gbnn_node *n, int i) {
  if (i < 0 || i >= n->n_inputs || n->inputs[i] < 0) return NULL;
  return &c->sg->tensors[n->inputs[i]];
}

gbnn_tensor *gbnn_node_output(gbnn_ctx *c, const gbnn_node *n, int i) {
  if (i < 0 || i >= n->n_outputs) return NULL;
  return &c->sg->tensors[n->outputs[i]];
}
