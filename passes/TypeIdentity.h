//===-- TypeIdentity.h - C-level type identity of functions and calls -----===//
//
// With opaque pointers every `i32 (ptr)` function looks like every other, so
// IR types are too coarse to resolve indirect calls: callbacks of different C
// types would be taken for each other and invent recursion cycles. clang's
// -fsanitize=kcfi hashes the C type of every function and indirect call;
// CapriTypeIdsPass moves those hashes into capri's own metadata
// (!capri.type_id) and removes every KCFI artefact, so no KCFI check reaches
// the binary (it would trap on calls into uninstrumented code such as libc).
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_TYPE_IDENTITY_H
#define CAPRI_TYPE_IDENTITY_H

#include "llvm/IR/PassManager.h"
#include <cstdint>
#include <optional>

namespace llvm {
class CallBase;
class Function;
class FunctionType;
class Module;
} // namespace llvm

namespace capri {

/// Metadata kind that carries a C-level type hash (a one-element tuple
/// holding an i32), on functions and on indirect calls.
inline constexpr const char *TypeIdMetadataName = "capri.type_id";

/// A stable hash of an IR function type: the same in every module and run.
uint32_t irTypeHash(const llvm::FunctionType *FT);

/// The C-level type hash of a function or of an indirect call, if known.
std::optional<uint32_t> cTypeId(const llvm::Function &F);
std::optional<uint32_t> cTypeId(const llvm::CallBase &CB);

/// Converts KCFI type hashes into !capri.type_id and strips KCFI.
struct CapriTypeIdsPass : llvm::PassInfoMixin<CapriTypeIdsPass> {
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &);
  static bool isRequired() { return true; }
};

} // namespace capri

#endif
