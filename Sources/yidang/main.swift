import YidangCLI
YidangCommand.main()
