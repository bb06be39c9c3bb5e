using System.Runtime.CompilerServices;

// The training package builds its serving pipelines from the same internal pieces as the inference transforms.
[assembly: InternalsVisibleTo("Microsoft.ML.BGpt.TorchSharp")]
[assembly: InternalsVisibleTo("Microsoft.ML.BGpt.Tests")]
[assembly: InternalsVisibleTo("Microsoft.ML.BGpt.Benchmarks")]
// The bgpt command line (assembly "bgpt") writes its outputs through AtomicFile.
[assembly: InternalsVisibleTo("bgpt")]
