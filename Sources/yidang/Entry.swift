import CJemalloc  // links jemalloc: the allocator of the whole process (see CJemalloc/shim.h)
import JemallocOptions  // and its page policy (see JemallocOptions/options.c)
import YidangCLI

@main
enum Entry {
    static func main() async {
        // Small pages for every command (see JemallocOptions.h).
        _ = yidang_disable_transparent_huge_pages()
        await YidangCommand.main(nil)
    }
}
