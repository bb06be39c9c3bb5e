using System.Runtime.CompilerServices;

// The batching tests look at batch plans, which are not public API.
[assembly: InternalsVisibleTo("Microsoft.ML.BGpt.Tests")]
