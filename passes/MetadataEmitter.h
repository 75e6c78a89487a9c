//===-- MetadataEmitter.h - write the capri record into the module --------===//
//
// Serialises the module's functions, frame estimates and calls into the
// versioned record described in docs/metadata.md, places it in the
// "capri_meta" section (kept by --gc-sections through llvm.used and the
// constructor that refers to it), and adds a passive constructor and
// destructor that hand it to libcapri through weak references.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_METADATA_EMITTER_H
#define CAPRI_METADATA_EMITTER_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriEmitMetadataPass : llvm::PassInfoMixin<CapriEmitMetadataPass> {
  /// WholeProgram: this module is the whole program (a full LTO link).
  explicit CapriEmitMetadataPass(bool WholeProgram = false) : WholeProgram(WholeProgram) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool WholeProgram;
};

/// The name of the record global; its presence means the module has one.
inline constexpr const char *RecordGlobalName = "__capri_record";
/// The module's bounds table (CheckpointInstrumentation makes it).
inline constexpr const char *BoundsTableName = "capri.bounds";

} // namespace capri

#endif
