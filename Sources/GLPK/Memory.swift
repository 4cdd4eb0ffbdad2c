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
}
