/* version.h - the version every slate program reports */
#ifndef SLATE_VERSION_H
#define SLATE_VERSION_H
#define SLATE_VERSION "0.1.0"
#endif
