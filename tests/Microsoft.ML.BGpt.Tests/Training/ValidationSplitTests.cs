using FluentAssertions;
using Microsoft.ML.BGpt.Training;
using Xunit;

namespace Microsoft.ML.BGpt.Tests.Training;

/// <summary>The validation share the trainers hold out: per label at random, or whole groups (SamplingKeyColumnName).</summary>
public class ValidationSplitTests
{
    /// <summary>
    /// 4 labels x 60 files; the files of each label come from groups of 1..9 (a speaker, a package), some groups spanning
    /// two labels, a few files without a group.
    /// </summary>
    private static List<ByteExample> Grouped(int seed)
    {
        var random = new Random(seed);
        var examples = new List<ByteExample>();
        int group = 0;
        for (int label = 0; label < 4; label++)
        {
            int left = 60;
            while (left > 0)
            {
                int size = Math.Min(left, random.Next(1, 10));
                string? name = random.NextDouble() < 0.1 ? null : $"g{group++}";
                for (int i = 0; i < size; i++)
                    examples.Add(new ByteExample(new byte[] { (byte)label, (byte)i }, ReadOnlyMemory<byte>.Empty, label) { Group = name });
                left -= size;
            }
        }
        // Groups that span labels: the last group of label 0 also has files of label 1.
        examples.AddRange(Enumerable.Range(0, 3).Select(i => new ByteExample(new byte[] { 9, (byte)i }, ReadOnlyMemory<byte>.Empty, 1) { Group = "g0" }));
        return examples;
    }

    [Fact]
    public void Groups_are_held_out_whole_and_every_label_gets_about_its_share()
    {
        var data = Grouped(seed: 3);
        var (train, validation) = DataSplit.Split(data, null, 0.2, seed: 7);

        train.Count.Should().Be(data.Count - validation.Count);
        var heldGroups = validation.Where(e => e.Group is not null).Select(e => e.Group).ToHashSet();
        heldGroups.Should().NotBeEmpty();
        train.Where(e => e.Group is not null).Should().NotContain(e => heldGroups.Contains(e.Group), "a group is never on both sides");
        foreach (var label in Enumerable.Range(0, 4))
        {
            double share = Math.Round(data.Count(e => e.Label == label) * 0.2);
            validation.Count(e => e.Label == label).Should().BeInRange((int)share, (int)Math.Max(share * 1.5, share + 1), $"label {label}'s share");
        }
    }

    [Fact]
    public void The_split_is_seeded_and_groups_change_it()
    {
        var data = Grouped(seed: 3);
        var a = DataSplit.Split(data, null, 0.2, seed: 7).Validation;
        DataSplit.Split(data, null, 0.2, seed: 7).Validation.Should().Equal(a);
        DataSplit.Split(data, null, 0.2, seed: 8).Validation.Should().NotEqual(a);

        // The same files without groups: the per-label random split, exactly round(0.2 n) per label.
        var plain = data.Select(e => e with { Group = null }).ToList();
        var random = DataSplit.Split(plain, null, 0.2, seed: 7).Validation;
        foreach (var label in Enumerable.Range(0, 4))
            random.Count(e => e.Label == label).Should().Be((int)Math.Round(plain.Count(e => e.Label == label) * 0.2));
        // On grouped data that split would cut through groups; the group split never does (checked above).
        var names = plain.Select((e, i) => data[i].Group).ToList();
        var randomHeld = random.Select(e => names[plain.IndexOf(e)]).Where(g => g is not null).ToHashSet();
        plain.Select((e, i) => (e, i)).Where(x => !random.Contains(x.e)).Select(x => names[x.i]).Should().Contain(g => randomHeld.Contains(g),
            "this data is one where ignoring groups would put a group on both sides, so the first test can fail");
    }

    [Fact]
    public void A_given_validation_set_or_no_share_is_left_alone()
    {
        var data = Grouped(seed: 4);
        DataSplit.Split(data, data.Take(5).ToList(), 0.2, seed: 0).Train.Should().HaveCount(data.Count);
        DataSplit.Split(data, null, 0, seed: 0).Validation.Should().BeEmpty();
        // One big group: it cannot be held out without taking a whole label, so the split falls back to random files.
        var one = data.Select(e => e with { Group = "all" }).ToList();
        var (train, validation) = DataSplit.Split(one, null, 0.2, seed: 0);
        validation.Should().NotBeEmpty();
        train.Should().NotBeEmpty();
    }
}
