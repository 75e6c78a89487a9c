//===-- CallGraph.h - capri's call graph of a module ----------------------===//
//
// What every defined function calls, as capri needs it: direct calls to
// definitions and to declarations (code without capri metadata), calls that
// code generation introduces (libcalls, __tls_get_addr, __stack_chk_fail),
// indirect calls with the C-level type they expect, and calls hidden in
// inline asm. Indirect calls are resolved by type identity against the
// module's address-taken functions; what stays unresolved is recorded, never
// assumed free.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_CALL_GRAPH_H
#define CAPRI_CALL_GRAPH_H

#include "capri_metadata.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/IR/DebugLoc.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Support/raw_ostream.h"
#include <string>
#include <vector>

namespace llvm {
class CallBase;
class Function;
class Instruction;
} // namespace llvm

namespace capri {

enum class CallKind : uint8_t {
  Defined,  ///< a function defined in this module
  External, ///< a declaration: code without capri metadata (or another file)
  Indirect, ///< target unknown, expects a type identity
  Asm,      ///< a call inside inline asm
};

/// Call flags: the metadata format's bits (docs/metadata.md).
namespace callflags {
enum : uint8_t {
  Tail = CAPRI_MD_CALLF_TAIL,
  Invoke = CAPRI_MD_CALLF_INVOKE,
  CallBr = CAPRI_MD_CALLF_CALLBR,
  TypeCoarse = CAPRI_MD_CALLF_TYPE_COARSE,
  Codegen = CAPRI_MD_CALLF_CODEGEN,
  Cast = CAPRI_MD_CALLF_CAST,
  MustTail = CAPRI_MD_CALLF_MUSTTAIL,
  ReturnsTwice = CAPRI_MD_CALLF_RETURNS_TWICE,
};
}

struct CallEdge {
  CallKind Kind;
  uint8_t Flags = 0;
  const llvm::Function *Callee = nullptr; ///< Defined (and External when known)
  std::string Name;                        ///< External: the symbol
  uint32_t TypeId = 0;                     ///< Indirect: expected type hash
  uint32_t IRTypeId = 0;
  const llvm::Instruction *Site = nullptr; ///< null for codegen-introduced calls
  llvm::DebugLoc Loc;
  /// Every call merged into this edge (Site first).
  llvm::SmallVector<const llvm::Instruction *, 1> Sites;
};

struct FunctionNode {
  const llvm::Function *F = nullptr;
  std::vector<CallEdge> Calls; ///< one per distinct callee
  bool AddressTaken = false;
  bool Leaf = true; ///< may be a machine leaf, so the red zone may be used
  bool TypeCoarse = false;
  uint32_t TypeId = 0;
  uint32_t IRTypeId = 0;
};

/// A declaration whose address the module takes.
struct AddressReference {
  const llvm::Function *F;
  uint32_t TypeId;
  uint32_t IRTypeId;
  bool TypeCoarse;
};

class CallGraphInfo {
public:
  /// Defined functions, in module order.
  llvm::MapVector<const llvm::Function *, FunctionNode> Nodes;
  std::vector<AddressReference> References;
  /// Whether the module carries C-level type identities (KCFI hashes).
  bool HasTypeIds = false;

  const FunctionNode *node(const llvm::Function *F) const {
    auto It = Nodes.find(F);
    return It == Nodes.end() ? nullptr : &It->second;
  }
  /// Address-taken functions of this module an indirect call may reach.
  llvm::ArrayRef<const llvm::Function *> indirectTargets(const CallEdge &E) const;
  /// The definition a call reaches within this module, if any: a local
  /// function, or an external one that no other definition can replace.
  const llvm::Function *resolvedCallee(const CallEdge &E) const;

  void print(llvm::raw_ostream &OS) const;
  bool invalidate(llvm::Module &, const llvm::PreservedAnalyses &PA,
                  llvm::ModuleAnalysisManager::Invalidator &);

private:
  friend class CapriCallGraphAnalysis;
  friend class CallGraphBuilder;
  llvm::DenseMap<uint64_t, llvm::SmallVector<const llvm::Function *, 4>> ByType;
};

/// Builds CallGraphInfo. Used by the frame, recursion and metadata passes.
class CapriCallGraphAnalysis : public llvm::AnalysisInfoMixin<CapriCallGraphAnalysis> {
  friend llvm::AnalysisInfoMixin<CapriCallGraphAnalysis>;
  static llvm::AnalysisKey Key;

public:
  using Result = CallGraphInfo;
  Result run(llvm::Module &M, llvm::ModuleAnalysisManager &);
};

struct CapriCallGraphPrinter : llvm::PassInfoMixin<CapriCallGraphPrinter> {
  llvm::raw_ostream &OS;
  explicit CapriCallGraphPrinter(llvm::raw_ostream &OS) : OS(OS) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }
};

/// Whether a function's address escapes (anything but a direct call or a
/// bookkeeping list such as llvm.used or llvm.global.annotations).
bool isAddressTaken(const llvm::Function &F);

/// Printable name of a call's target.
std::string calleeLabel(const CallEdge &E);

} // namespace capri

#endif
