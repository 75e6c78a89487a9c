//===-- Diagnostic.h - capri's own compiler diagnostics -------------------===//
//
// A plain message at a chosen severity. clang prints plugin diagnostics as
// "warning:"/"error:" (group -Wbackend-plugin), lld through its LTO
// diagnostic handler.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_DIAGNOSTIC_H
#define CAPRI_DIAGNOSTIC_H

#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include <string>

namespace capri {

class CapriDiagnostic : public llvm::DiagnosticInfo {
public:
  CapriDiagnostic(std::string Message, llvm::DiagnosticSeverity Severity)
      : DiagnosticInfo(kind(), Severity), Message(std::move(Message)) {}
  void print(llvm::DiagnosticPrinter &DP) const override { DP << Message; }
  static bool classof(const DiagnosticInfo *DI) { return DI->getKind() == kind(); }

private:
  std::string Message;
  static int kind() {
    static const int K = llvm::getNextAvailablePluginDiagnosticKind();
    return K;
  }
};

inline void diagnose(llvm::LLVMContext &Ctx, const std::string &Message,
                     llvm::DiagnosticSeverity Severity) {
  Ctx.diagnose(CapriDiagnostic(Message, Severity));
}

} // namespace capri

#endif
