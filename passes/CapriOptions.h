//===-- CapriOptions.h - command-line options of the capri plugin ---------===//
//
// Every option is reachable from opt (-capri-...) and from clang through
// -mllvm -capri-... (which needs the plugin loaded with -Xclang -load too;
// capri-cc does both).
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_OPTIONS_H
#define CAPRI_OPTIONS_H

#include "llvm/Support/CommandLine.h"

namespace capri {

/// How a recursion cycle found at compile time is reported.
enum class RecursionSeverity { Off, Remark, Warning, Error };

extern llvm::cl::opt<RecursionSeverity> RecursionDiagnostic;
extern llvm::cl::opt<unsigned> ExternalReserve;
extern llvm::cl::opt<unsigned> FrameMargin;
extern llvm::cl::opt<bool> EmitMetadata;
extern llvm::cl::opt<unsigned> MaxPath;
extern llvm::cl::opt<unsigned> MinChunk;
extern llvm::cl::opt<unsigned> Slack;
extern llvm::cl::opt<bool> Instrument;
extern llvm::cl::opt<bool> YieldSites;
extern llvm::cl::opt<bool> ShrinkYieldFrames;
extern llvm::cl::opt<unsigned> ShrinkThreshold;
extern llvm::cl::opt<bool> LoopYieldPoints;
extern llvm::cl::opt<unsigned> LoopMinTrip;
extern llvm::cl::opt<unsigned> LoopChunkWork;

} // namespace capri

#endif
