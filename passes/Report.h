//===-- Report.h - remarks and recursion diagnostics ----------------------===//
//
// Per function, an analysis remark with its frame bound and worst path
// (-Rpass-analysis=capri, -fsave-optimization-record). Per recursion cycle,
// a diagnostic at the severity -capri-recursion selects: a remark by
// default, so loading the plugin never breaks a -Werror build by itself.
//
//===----------------------------------------------------------------------===//
#ifndef CAPRI_REPORT_H
#define CAPRI_REPORT_H

#include "llvm/IR/PassManager.h"

namespace capri {

struct CapriReportPass : llvm::PassInfoMixin<CapriReportPass> {
  /// AtLTOLink: at the full-LTO link (a pre-link compile reports nothing).
  explicit CapriReportPass(bool AtLTOLink = false) : AtLTOLink(AtLTOLink) {}
  llvm::PreservedAnalyses run(llvm::Module &M, llvm::ModuleAnalysisManager &MAM);
  static bool isRequired() { return true; }

private:
  bool AtLTOLink;
};

} // namespace capri

#endif
