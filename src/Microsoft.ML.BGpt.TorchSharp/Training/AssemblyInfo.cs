using System.Runtime.CompilerServices;

// The batching tests look at batch plans, which are not public API.
[assembly: InternalsVisibleTo("Microsoft.ML.BGpt.Tests")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Microsoft.ML.BGpt.Benchmarks")]
[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Microsoft.ML.BGpt.Experiments")]
