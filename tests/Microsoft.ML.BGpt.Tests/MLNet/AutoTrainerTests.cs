using FluentAssertions;
using Microsoft.ML;
using Microsoft.ML.Data;
using Xunit;
using Xunit.Abstractions;

namespace Microsoft.ML.BGpt.Tests;

/// <summary>MulticlassClassification.Trainers.BGptAuto: plans from the data and a time budget, then trains through the public API.</summary>
[Collection(Training.TorchGlobalState.Name)]
public class AutoTrainerTests(ITestOutputHelper output)
{
    [Fact]
    public void Auto_trainer_plans_pretrains_and_fine_tunes_within_its_budget()
    {
        var ml = new MLContext(seed: 0);
        var train = ml.Data.LoadFromEnumerable(TrainerTests.Toy(150, 1));
        var test = ml.Data.LoadFromEnumerable(TrainerTests.Toy(30, 2));
        var budget = TimeSpan.FromSeconds(40);
        var trainer = ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions { TrainingTime = budget, Threads = 2 });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(trainer).Fit(train);
        clock.Stop();
        var recipe = trainer.LastRecipe!;
        output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s; {recipe.Rationale}");
        output.WriteLine(string.Join("; ", trainer.LastTrainingHistory!.Select(e => $"{e.Epoch}: {e.TrainLoss:F3}/{e.ValidationAccuracy:P0}")));

        recipe.WindowBytes.Should().Be(BGptAutoRecipe.MinWindow, "20-60 byte files fit the smallest window");
        recipe.Pretraining.Should().NotBeNull("a 40 s budget on 150 tiny files leaves several pretraining epochs");
        trainer.LastTrainingHistory!.Count.Should().BeGreaterThanOrEqualTo(3);
        clock.Elapsed.Should().BeLessThan(budget * 2, "each phase is bounded by its share of the budget (plus set-up and export)");
        var scored = model.Transform(test);
        scored.Schema["PredictedLabel"].Type.Should().BeOfType<KeyDataViewType>();
        scored.Schema["Score"].Type.Should().BeOfType<VectorDataViewType>().Which.Size.Should().Be(3);
        var metrics = ml.MulticlassClassification.Evaluate(scored);
        output.WriteLine($"toy accuracy {metrics.MicroAccuracy:P1}");
        metrics.MicroAccuracy.Should().BeGreaterThan(0.9);
    }

    [Fact]
    public void Auto_trainer_names_a_missing_column_and_refuses_a_zero_budget()
    {
        var ml = new MLContext(seed: 0);
        var data = ml.Data.LoadFromEnumerable(TrainerTests.Toy(12, 1));
        var keyed = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data).Transform(data);
        var missing = ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions { BytesColumnName = "Content" });
        FluentActions.Invoking(() => missing.Fit(keyed)).Should().Throw<ArgumentOutOfRangeException>().WithMessage("*Content*");
        FluentActions.Invoking(() => missing.GetOutputSchema(new SchemaShape(Array.Empty<SchemaShape.Column>()))).Should().Throw<ArgumentOutOfRangeException>()
            .WithMessage("*BGptAuto*Label*", "the schema check names the trainer the user called");
        var zero = ml.MulticlassClassification.Trainers.BGptAuto(new BGptAutoClassifierOptions { TrainingTime = TimeSpan.Zero });
        FluentActions.Invoking(() => zero.Fit(keyed)).Should().Throw<ArgumentException>().WithMessage("*TrainingTime*");
    }
}
