Console.WriteLine("bgpt");
