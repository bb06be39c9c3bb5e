using FluentAssertions;
using Microsoft.ML.BGpt.Runtime;
using Microsoft.ML.BGpt.Tests.Training;
using Xunit;
using Xunit.Abstractions;
using Marshal = System.Runtime.InteropServices.Marshal;

namespace Microsoft.ML.BGpt.Tests.Runtime;

// In the torch collection, which runs alone: a training run elsewhere in the process would hold the setting.
[Collection(TorchGlobalState.Name)]
public class NativeMemoryTests(ITestOutputHelper output)
{
    [Fact]
    public void A_shared_setting_is_applied_by_the_first_scope_and_undone_by_the_last()
    {
        var calls = new List<bool>();
        var setting = new SharedSetting(calls.Add);
        var outer = setting.Enter();
        var inner = setting.Enter();
        calls.Should().Equal(true);
        inner.Dispose();
        inner.Dispose();
        calls.Should().Equal([true], "a second scope is still open, and disposing twice counts once");
        outer.Dispose();
        calls.Should().Equal(true, false);
        using (setting.Enter()) calls.Should().Equal(true, false, true);
        calls.Should().Equal(true, false, true, false);
    }

    [Fact]
    public void Concurrent_scopes_apply_and_undo_the_setting_once_each_time_none_is_open()
    {
        int applied = 0, open = 0;
        var setting = new SharedSetting(on => { if (on) { applied++; open++; } else open--; open.Should().BeInRange(0, 1); });
        Parallel.For(0, 1000, _ => { using var s = setting.Enter(); });
        open.Should().Be(0);
        applied.Should().BeGreaterThan(0);
    }

    [Fact]
    public void While_training_freed_heap_memory_is_reused_without_faulting_its_pages_in_again()
    {
        if (!OperatingSystem.IsLinux()) return; // glibc's heap; elsewhere the scope does nothing
        const int blocks = 32, size = 4 << 20; // 128 MB in blocks under the held 32 MB mmap threshold
        long pages = (long)blocks * size / 4096;

        long Faults() => long.Parse(File.ReadAllText("/proc/thread-self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[7]);
        long Cycle()
        {
            long before = Faults();
            var p = new nint[blocks];
            for (int i = 0; i < blocks; i++)
            {
                p[i] = Marshal.AllocHGlobal(size); // malloc
                for (int o = 0; o < size; o += 4096) Marshal.WriteByte(p[i], o, 1);
            }
            for (int i = blocks - 1; i >= 0; i--) Marshal.FreeHGlobal(p[i]);
            return Faults() - before;
        }

        long held;
        using (NativeMemory.RetainFreedMemory())
        {
            Cycle();
            held = Cycle();
        }
        Cycle();
        long released = Cycle(); // not asserted: whether the heap top can shrink depends on what other threads hold
        output.WriteLine($"{pages} pages per cycle; page faults in a second cycle: {held} while held, {released} after");
        held.Should().BeLessThan(pages / 10, "the first cycle's pages stay in the heap while training (glibc's defaults fault in every page again)");
    }
}
