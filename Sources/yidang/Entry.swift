import YidangCLI

@main
enum Entry {
    static func main() async {
        await YidangCommand.main(nil)
    }
}
