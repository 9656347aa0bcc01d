import CJemalloc  // links jemalloc: the allocator of the whole process (see CJemalloc/shim.h)
import JemallocOptions  // and its options (see JemallocOptions/options.c)
import YidangCLI

@main
enum Entry {
    static func main() async {
        // Huge pages are for the commands that build a large state at once (import, rebuild,
        // verify, load); the server keeps small pages (see JemallocOptions.h).
        if CommandLine.arguments.dropFirst().first == "serve" { _ = yidang_disable_transparent_huge_pages() }
        await YidangCommand.main(nil)
    }
}
