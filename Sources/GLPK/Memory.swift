internal import CGLPK

/// GLPK's memory accounting for the calling thread (GLPK keeps its environment per thread).
public enum GLPKMemory {
  /// Bytes GLPK has allocated and not yet freed on this thread (`glp_mem_usage`).
  public static var bytesInUse: Int {
    var count: Int32 = 0
    var peakCount: Int32 = 0
    var total = 0
    var peakTotal = 0
    glp_mem_usage(&count, &peakCount, &total, &peakTotal)
    return total
  }

  /// Frees the calling thread's GLPK environment (`glp_free_env`). GLPK makes one per thread on
  /// first use and never frees it by itself, so a short-lived thread that used GLPK calls this
  /// before it ends. Only once every GLPK problem made on the thread is gone: it frees their
  /// memory too. Harmless on a thread that never used GLPK.
  public static func releaseThreadEnvironment() {
    _ = glp_free_env()
  }
}
