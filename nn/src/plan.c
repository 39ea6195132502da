/* The activation planner. Every tensor that is not a constant, a variable or a resource handle lives from the first
 * node that touches it to the last, over the execution order of all subgraphs on one time line: a subgraph run by
 * CALL_ONCE is nested inside that node's step, so its tensors never share space with what is live around the call;
 * subgraph 0's inputs live from the start and its outputs to the end; subgraphs nothing runs come after. Placement
 * is greedy, largest first, each into the smallest gap that holds it among the tensors whose lifetimes overlap
 * (best fit), sizes rounded to 16 bytes. GBNN_PRESERVE_ALL_TENSORS gives every tensor its own space instead.
 *
 * The lifetimes live in scratch arrays at the head's end while planning; the activations then reuse that space. */
#include <string.h>

#include "core_private.h"

#define UNSET INT32_MAX
#define UNPLACED UINT32_MAX
#define WRITTEN 1u
#define READ 2u
#define READ_FIRST 4u /* read by a node before any node (or the caller, for subgraph 0's inputs) wrote it */

typedef struct {
  int32_t *first, *last;
  uint32_t *offset;
  size_t *size;     /* padded bytes of a tensor to place, 0 for the others */
  int32_t *sorted;  /* the placed tensors, by offset */
  uint8_t *use;
  uint8_t *visited; /* per subgraph */
  int32_t *base;    /* per subgraph: its first tensor's index in the arrays */
  int32_t time;
} plan_state;

static void touch(plan_state *p, int32_t at, int32_t from, int32_t to, uint8_t how) {
  if (p->first[at] > from) p->first[at] = from;
  if (p->last[at] < to) p->last[at] = to;
  p->use[at] |= how;
}

static bool planned(const gbnn_tensor *t);

static gbnn_status lay_out(gbnn_ctx *c, plan_state *p, int32_t s) {
  gbnn_subgraph *sg = &c->it->subgraphs[s];
  p->visited[s] = 1;
  for (int32_t k = 0; k < sg->n_nodes; k++) {
    const gbnn_node *n = &sg->nodes[k];
    int32_t start = p->time++;
    if (n->op == &gbnn_op_call_once && n->data != NULL) {
      int32_t child = ((const gbnn_call_once_data *)n->data)->subgraph;
      if (child <= 0 || child >= c->it->n_subgraphs || p->visited[child]) {
        c->sg_index = s;
        return gbnn_refuse(c, n, GBNN_UNSUPPORTED, "subgraph %d is run by more than one CALL_ONCE, or recursively",
                           child);
      }
      gbnn_status st = lay_out(c, p, child);
      if (st != GBNN_OK) return st;
    }
    int32_t end = p->time++;
    /* Nodes are visited in execution order, a node's inputs before its outputs: an activation read now that
     * nothing has written yet would be read uninitialised (a node reading its own output included). */
    for (int32_t i = 0; i < n->n_inputs; i++) {
      if (n->inputs[i] < 0) continue;
      const int32_t at = p->base[s] + n->inputs[i];
      if (!(p->use[at] & WRITTEN) && planned(&sg->tensors[n->inputs[i]])) p->use[at] |= READ_FIRST;
      touch(p, at, start, end, READ);
    }
    for (int32_t i = 0; i < n->n_outputs; i++) touch(p, p->base[s] + n->outputs[i], start, end, WRITTEN);
  }
  return GBNN_OK;
}

static bool planned(const gbnn_tensor *t) {
  return !t->is_constant && !t->is_variable && t->type != GBNN_RESOURCE && t->bytes > 0;
}

static size_t padded(size_t bytes) { return (bytes + 15u) & ~(size_t)15u; }

gbnn_status gbnn_plan(gbnn_ctx *c) {
  gbnn_interpreter *it = c->it;
  const size_t head = it->head, needed_head = it->needed_head;
  int32_t total = 0;
  for (int32_t s = 0; s < it->n_subgraphs; s++) total += it->subgraphs[s].n_tensors;
  const size_t n = (size_t)total;

  plan_state p;
  memset(&p, 0, sizeof p);
  p.first = gbnn_head_alloc(it, sizeof(int32_t) * n, 4);
  p.last = gbnn_head_alloc(it, sizeof(int32_t) * n, 4);
  p.offset = gbnn_head_alloc(it, sizeof(uint32_t) * n, 4);
  p.size = gbnn_head_alloc(it, sizeof(size_t) * n, sizeof(size_t));
  p.sorted = gbnn_head_alloc(it, sizeof(int32_t) * n, 4);
  p.base = gbnn_head_alloc(it, sizeof(int32_t) * (size_t)it->n_subgraphs, 4);
  p.use = gbnn_head_alloc(it, n, 1);
  p.visited = gbnn_head_alloc(it, (size_t)it->n_subgraphs, 1);
  if (it->overflow) {
    c->status = GBNN_ARENA_TOO_SMALL;
    return c->status;
  }
  gbnn_status st = GBNN_OK;
  int32_t at = 0;
  for (int32_t s = 0; s < it->n_subgraphs; s++) {
    p.base[s] = at;
    at += it->subgraphs[s].n_tensors;
  }
  for (size_t i = 0; i < n; i++) {
    p.first[i] = UNSET;
    p.last[i] = -1;
    p.offset[i] = UNPLACED;
  }

  /* Lifetimes. */
  const gbnn_subgraph *main_sg = &it->subgraphs[0];
  for (int32_t i = 0; i < main_sg->n_inputs; i++) touch(&p, main_sg->inputs[i], 0, 0, WRITTEN);
  p.time = 1;
  st = lay_out(c, &p, 0);
  for (int32_t s = 1; s < it->n_subgraphs && st == GBNN_OK; s++) {
    if (!p.visited[s]) st = lay_out(c, &p, s);
  }
  if (st != GBNN_OK) goto done;
  for (int32_t i = 0; i < main_sg->n_outputs; i++) {
    if (!(p.use[main_sg->outputs[i]] & WRITTEN)) p.use[main_sg->outputs[i]] |= READ_FIRST;
    touch(&p, main_sg->outputs[i], p.time, p.time, READ);
  }

  /* Every planned tensor that is read was written before, by an earlier node or as an input of subgraph 0. */
  for (int32_t s = 0; s < it->n_subgraphs; s++) {
    const gbnn_subgraph *sg = &it->subgraphs[s];
    for (int32_t i = 0; i < sg->n_tensors; i++) {
      if (planned(&sg->tensors[i]) && (p.use[p.base[s] + i] & READ_FIRST)) {
        st = gbnn_fail(c, GBNN_BAD_MODEL, "subgraph %d tensor %d is read before anything writes it", s, i);
        goto done;
      }
      const gbnn_tensor *t = &sg->tensors[i];
      if (p.use[p.base[s] + i] != 0 && !t->is_constant && t->type != GBNN_RESOURCE && t->bytes == 0) {
        st = gbnn_fail(c, GBNN_UNSUPPORTED, "subgraph %d tensor %d has no elements (TFLM cannot allocate it)", s, i);
        goto done;
      }
    }
  }

  /* Placement. */
  size_t extent = 0;
  if (it->flags & GBNN_PRESERVE_ALL_TENSORS) {
    for (int32_t s = 0; s < it->n_subgraphs; s++) {
      const gbnn_subgraph *sg = &it->subgraphs[s];
      for (int32_t i = 0; i < sg->n_tensors; i++) {
        int32_t g = p.base[s] + i;
        if (!planned(&sg->tensors[i]) || p.use[g] == 0) continue;
        p.offset[g] = (uint32_t)extent;
        extent += padded(sg->tensors[i].bytes);
        if (extent > UINT32_MAX / 2) {
          st = gbnn_fail(c, GBNN_UNSUPPORTED, "activations too large");
          goto done;
        }
      }
    }
  } else {
    for (size_t g = 0; g < n; g++) p.size[g] = 0;
    for (int32_t s = 0; s < it->n_subgraphs; s++) {
      const gbnn_subgraph *sg = &it->subgraphs[s];
      for (int32_t i = 0; i < sg->n_tensors; i++) {
        int32_t g = p.base[s] + i;
        if (planned(&sg->tensors[i]) && p.use[g] != 0) p.size[g] = padded(sg->tensors[i].bytes);
      }
    }
    int32_t n_placed = 0; /* p.sorted[0 .. n_placed) : the placed tensors by offset */
    for (;;) {
      /* The largest tensor not yet placed (the lowest index among equals). */
      int32_t pick = -1;
      for (int32_t g = 0; g < total; g++) {
        if (p.size[g] != 0 && p.offset[g] == UNPLACED && (pick < 0 || p.size[g] > p.size[pick])) pick = g;
      }
      if (pick < 0) break;
      const size_t size = p.size[pick];
      /* Sweep the placed tensors live at the same time, by offset: the gaps between them are the candidates, the
       * smallest that holds `size` wins (the lowest among equals); none: after the last. */
      size_t best = SIZE_MAX, best_gap = SIZE_MAX, end = 0;
      for (int32_t k = 0; k < n_placed; k++) {
        const int32_t g = p.sorted[k];
        if (p.first[g] > p.last[pick] || p.first[pick] > p.last[g]) continue;
        const size_t lo = p.offset[g], hi = lo + p.size[g];
        if (lo > end && lo - end >= size && lo - end < best_gap) {
          best = end;
          best_gap = lo - end;
        }
        if (hi > end) end = hi;
      }
      if (best == SIZE_MAX) best = end;
      if (best > UINT32_MAX / 2) {
        st = gbnn_fail(c, GBNN_UNSUPPORTED, "activations too large");
        goto done;
      }
      p.offset[pick] = (uint32_t)best;
      if (best + size > extent) extent = best + size;
      int32_t at_k = n_placed++;
      while (at_k > 0 && p.offset[p.sorted[at_k - 1]] > best) {
        p.sorted[at_k] = p.sorted[at_k - 1];
        at_k--;
      }
      p.sorted[at_k] = pick;
    }
  }

  /* Addresses, if it all fits (gbnn_open reports the size otherwise). */
  it->head = head;
  it->needed_head = needed_head;
  it->activations = extent;
  size_t base_off = (head + 15u) & ~(size_t)15u;
  if (base_off + extent <= it->arena_len) {
    uint8_t *base = it->arena + base_off;
    for (int32_t s = 0; s < it->n_subgraphs; s++) {
      gbnn_subgraph *sg = &it->subgraphs[s];
      for (int32_t i = 0; i < sg->n_tensors; i++) {
        gbnn_tensor *t = &sg->tensors[i];
        if (t->is_constant || t->is_variable || t->type == GBNN_RESOURCE) continue;
        uint32_t off = p.offset[p.base[s] + i];
        t->data = off == UNPLACED ? (t->bytes == 0 ? (void *)base : NULL) : (void *)(base + off);
      }
    }
  }
  return GBNN_OK;

done:
  it->head = head;
  it->needed_head = needed_head;
  return st;
}
