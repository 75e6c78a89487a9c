//===-- LimitWord.h - where instrumented code finds the limit word -------===//
//
// The stack-limit word is %fs:0x70 on x86-64, the TCB's split-stack slot
// (address space 257 is %fs). Checkpoints compare the stack pointer with
// it; loop yield points test its preemption bit, bit 62 (LIMIT_PREEMPT,
// runtime/src/limit.h), which is bit 6 of the byte at 0x77. The runtime's
// arch/x86_64.S uses the same offsets.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_LIMITWORD_H
#define CAPRI_LIMITWORD_H

#include <cstdint>

namespace capri {

constexpr unsigned FSAddressSpace = 257;
constexpr uint64_t LimitWordOffset = 0x70;
constexpr uint64_t PreemptByte = LimitWordOffset + 7;
constexpr uint64_t PreemptMask = 0x40;

} // namespace capri

#endif
