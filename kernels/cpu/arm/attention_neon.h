// The NEON attention kernel (aarch64 only, ARMv8.0); only the dispatch table calls it.
#pragma once

#include "kernels/cpu/ref/attention.h"

namespace tlm::cpu::arm {

// ref::Attention's contract (kernels/cpu/ref/attention.h) computed flash-attention style: tiles
// of query vectors (several rows of all query heads of one KV head, so a key tile is loaded once
// for the whole group) by tiles of keys, with an online softmax (running max and sum) and a
// polynomial exp; results within float rounding of the reference, not bit-identical. The same
// algorithm as x86::AttentionAvx2 on 4-float vectors.
void AttentionNeon(const ref::AttentionArgs& args, const ref::AttentionWork& work, const ref::AttentionPartial* partial,
                   float* scratch);

}  // namespace tlm::cpu::arm
