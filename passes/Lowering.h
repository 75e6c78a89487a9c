//===-- Lowering.h - calls that code generation introduces ----------------===//
//
// Code generation turns some IR that is not a call into a call: copies of
// variable size become memcpy, floating-point intrinsics without an x86-64
// instruction become libm calls, 128-bit division becomes __divti3, and
// thread-local access in shared-object code calls __tls_get_addr. The call
// graph needs them as edges, and the frame model needs to know whether a
// function can still be a machine leaf (which may use the red zone).
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_LOWERING_H
#define CAPRI_LOWERING_H

#include <string>

namespace llvm {
class Function;
class GlobalVariable;
class Instruction;
class IntrinsicInst;
class Module;
} // namespace llvm

namespace capri {

struct Libcall {
  std::string Name; ///< empty: no call
  /// The backend always emits the call. When false (a constant-size copy
  /// above the inline limit, which wider vector units may still expand),
  /// the function may remain a machine leaf.
  bool Certain = false;
};

/// The library function code generation calls for an intrinsic.
Libcall intrinsicLibcall(const llvm::IntrinsicInst &II, const llvm::Function &Caller);
/// Library calls that plain instructions become (128-bit division, frem,
/// conversions between floating point and 128-bit integers).
Libcall instructionLibcall(const llvm::Instruction &I);
/// Whether an instruction reaches a thread-local variable through
/// __tls_get_addr.
bool usesTlsGetAddr(const llvm::Instruction &I, const llvm::Module &M);

/// Whether the machine code of a function calls: Definite (it is not a
/// leaf), Possible (code generation decides: a call in tail position may
/// become a jump, a copy may be expanded inline, the stack protector or a
/// sanitizer may or may not add its call), or None.
enum class MachineCalls { None, Possible, Definite };
MachineCalls machineCalls(const llvm::Function &F);

/// Whether the stack protector will guard F (and so may call
/// __stack_chk_fail): a replica of the backend's decision, which only says
/// Definite where the backend certainly protects.
MachineCalls stackProtectorCall(const llvm::Function &F);

/// The profiling hook code generation calls on entry (-pg, -mfentry,
/// -finstrument-functions), or "".
std::string profilingCall(const llvm::Function &F);

/// The runtime function a sanitizer that runs after the plugin calls from
/// F, or "" (a representative of the family: report and entry hooks).
std::string sanitizerRuntimeCall(const llvm::Function &F);

} // namespace capri

#endif
